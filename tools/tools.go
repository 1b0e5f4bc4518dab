//go:build tools

// Package tools pins the command-line tools the test suites run, so that
// `go mod tidy` keeps every module they need in go.mod and go.sum. The build
// tag keeps it out of every build: nothing here is linked into the resource.
//
// The real bosh CLI, from the very bosh-cli version pkg/render renders with,
// for the specs that compare rendering with `bosh int`:
//
//	go build -o "$HOME/.cache/tc-tools/bin/bosh" github.com/cloudfoundry/bosh-cli/v7
//	export BOSH_CLI="$HOME/.cache/tc-tools/bin/bosh"
package tools

import (
	_ "github.com/cloudfoundry/bosh-cli/v7"
)
