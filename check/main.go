// Command check is the Concourse resource's check: the request on stdin, the
// response on stdout (see pkg/commands.Check), within commands.CheckDeadline.
package main

import "github.com/templates-candidate/templates-candidate-resource/pkg/commands"

func main() { commands.Main(commands.Bounded("check", commands.CheckDeadline, commands.Check)) }
