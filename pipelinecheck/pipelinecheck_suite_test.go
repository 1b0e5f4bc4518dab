package pipelinecheck_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestPipelinecheck(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Pipeline Check Suite")
}
