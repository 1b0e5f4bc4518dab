// Command in is the Concourse resource's in: the request on stdin, the
// response on stdout (see pkg/commands.In).
package main

import (
	"github.com/templates-candidate/templates-candidate-resource/pkg/commands"
	"github.com/templates-candidate/templates-candidate-resource/pkg/resource"
)

func main() { resource.Main(commands.In) }
