// Command in is the Concourse resource's in: the request on stdin, the
// response on stdout (see pkg/commands.In).
package main

import "github.com/templates-candidate/templates-candidate-resource/pkg/commands"

func main() { commands.Main(commands.In) }
