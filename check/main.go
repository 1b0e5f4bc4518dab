// Command check is the Concourse resource's check: the request on stdin, the
// response on stdout (see pkg/check), within resource.CheckDeadline.
package main

import (
	"github.com/templates-candidate/templates-candidate-resource/pkg/check"
	"github.com/templates-candidate/templates-candidate-resource/pkg/resource"
)

func main() { resource.Main(resource.Bounded("check", resource.CheckDeadline, check.Check)) }
