// Command out is the Concourse resource's out: the request on stdin, the
// response on stdout (see pkg/commands.Out).
package main

import (
	"github.com/templates-candidate/templates-candidate-resource/pkg/commands"
	"github.com/templates-candidate/templates-candidate-resource/pkg/resource"
)

func main() { resource.Main(commands.Out) }
