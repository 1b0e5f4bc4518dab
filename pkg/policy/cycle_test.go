package policy_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

var _ = Describe("validating a policy", func() {
	DescribeTable("refuses requirements that form a cycle, naming the cycle",
		func(p policy.Policy, want string) {
			Expect(p.Validate()).To(MatchError("source.environments: requirements form a cycle: " + want))
		},
		Entry("two environments needing each other", policy.Policy{
			"a": {RequiresAll: []string{"b"}},
			"b": {RequiresAll: []string{"a"}},
		}, "a -> b -> a"),
		Entry("through requires_any", policy.Policy{
			"a":   {RequiresAny: []string{"b"}},
			"b":   {RequiresAny: []string{"c", "dev"}},
			"c":   {RequiresAll: []string{"a"}},
			"dev": {},
		}, "a -> b -> c -> a"),
		Entry("a cycle downstream of a sound environment", policy.Policy{
			"dev1":       {},
			"staging":    {RequiresAny: []string{"dev1", "production"}},
			"production": {RequiresAll: []string{"staging"}},
		}, "production -> staging -> production"),
	)

	It("accepts the corporate policy: a diamond is not a cycle", func() {
		Expect(corporate.Validate()).To(Succeed())
		Expect(policy.Policy{
			"a": {}, "b": {RequiresAll: []string{"a"}}, "c": {RequiresAll: []string{"a"}},
			"d": {RequiresAll: []string{"b", "c"}, RequiresAny: []string{"a"}},
		}.Validate()).To(Succeed())
	})

	It("still refuses an environment requiring itself as such", func() {
		Expect(policy.Policy{"a": {RequiresAny: []string{"a"}}}.Validate()).To(MatchError(ContainSubstring("an environment cannot require itself")))
	})

	It("accepts names of up to 63 characters and refuses longer ones", func() {
		Expect(policy.Policy{strings.Repeat("a", 63): {}}.Validate()).To(Succeed())
		long := strings.Repeat("a", 64)
		Expect(policy.Policy{long: {}}.Validate()).To(MatchError(`source.environments: "` + long + `" is longer than 63 characters (64)`))
	})
})
