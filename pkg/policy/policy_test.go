package policy_test

import (
	"encoding/json"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

var corporate = policy.Policy{
	"dev1":          {},
	"dev2":          {},
	"staging":       {RequiresAny: []string{"dev1", "dev2"}, FinalReleases: true},
	"staging-tests": {RequiresAll: []string{"staging"}},
	"production":    {RequiresAll: []string{"staging", "staging-tests"}, FinalReleases: true, Soak: policy.Duration(time.Hour)},
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func passes(envAtMinute ...any) []policy.Pass {
	var out []policy.Pass
	for i := 0; i < len(envAtMinute); i += 2 {
		out = append(out, policy.Pass{Environment: envAtMinute[i].(string), Time: at(envAtMinute[i+1].(int))})
	}
	return out
}

func finalReleases(string) ([]policy.Release, bool) {
	return []policy.Release{{Name: "redis", Version: "14.0.1", Final: true}}, true
}

var _ = Describe("admitting a candidate", func() {
	admit := func(env string, ps []policy.Pass, now time.Time) error {
		return corporate.Admit(env, policy.Evidence{Version: "1.0.0", Published: t0, Passes: ps, Releases: finalReleases}, now)
	}

	DescribeTable("by the corporate policy",
		func(env string, ps []policy.Pass, nowMinute int, want string) {
			err := admit(env, ps, at(nowMinute))
			if want == "" {
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(err).To(MatchError(ContainSubstring(want)))
			var refusal *policy.Refusal
			Expect(errors.As(err, &refusal)).To(BeTrue())
		},
		Entry("admits dev1 with no rule", "dev1", nil, 0, ""),
		Entry("refuses staging when neither dev1 nor dev2 passed", "staging", nil, 0,
			"candidate 1.0.0 is not admitted to staging: needs a pass in one of dev1, dev2 (none yet)"),
		Entry("admits staging after dev2 alone", "staging", passes("dev2", 1), 2, ""),
		Entry("admits staging after dev1 alone", "staging", passes("dev1", 1), 2, ""),
		Entry("refuses production without staging-tests, naming it", "production", passes("dev1", 1, "staging", 2), 200,
			"missing passes: staging-tests"),
		Entry("refuses production with neither, naming both", "production", passes("dev1", 1), 200,
			"missing passes: staging, staging-tests"),
		Entry("refuses production while soaking, with the time left", "production", passes("staging", 2, "staging-tests", 10), 40,
			"soaking: 30m0s left of 1h0m0s"),
		Entry("admits production once the soak has passed since the last requirement", "production", passes("staging", 2, "staging-tests", 10), 70, ""),
		Entry("counts the soak from the first pass of each requirement", "production", passes("staging", 2, "staging-tests", 10, "staging-tests", 65), 71, ""),
	)

	It("names each release that is not final", func() {
		err := corporate.Admit("staging", policy.Evidence{
			Version: "1.0.0",
			Passes:  passes("dev1", 1),
			Releases: func(env string) ([]policy.Release, bool) {
				Expect(env).To(Equal("staging"))
				return []policy.Release{
					{Name: "redis", Version: "14+dev.3"},
					{Name: "bpm", Version: "1.2.3", Final: true},
					{Name: "syslog"},
				}, true
			},
		}, at(5))
		Expect(err).To(MatchError("candidate 1.0.0 is not admitted to staging: releases not final: redis 14+dev.3, syslog (no version)"))
	})

	It("reports every unmet requirement at once", func() {
		err := corporate.Admit("production", policy.Evidence{
			Version: "2.0.0",
			Releases: func(string) ([]policy.Release, bool) {
				return []policy.Release{{Name: "redis", Version: "latest"}}, true
			},
		}, at(0))
		Expect(err).To(MatchError("candidate 2.0.0 is not admitted to production: missing passes: staging, staging-tests; releases not final: redis latest"))
	})

	DescribeTable("refuses when the releases are unknown",
		func(releases func(string) ([]policy.Release, bool)) {
			err := corporate.Admit("staging", policy.Evidence{
				Version:  "1.0.0",
				Passes:   passes("dev1", 1),
				Releases: releases,
			}, at(5))
			Expect(err).To(MatchError("candidate 1.0.0 is not admitted to staging: releases for staging unknown: publish the templates again (the candidate was published before staging was declared)"))
			var refusal *policy.Refusal
			Expect(errors.As(err, &refusal)).To(BeTrue())
		},
		Entry("not recorded for the environment", func(string) ([]policy.Release, bool) { return nil, false }),
		Entry("no release information at all", nil),
	)

	It("counts a soak without requirements from publication", func() {
		p := policy.Policy{"canary": {Soak: policy.Duration(10 * time.Minute)}}
		Expect(p.Admit("canary", policy.Evidence{Version: "1.0.0", Published: t0}, at(5))).To(MatchError(ContainSubstring("5m0s left")))
		Expect(p.Admit("canary", policy.Evidence{Version: "1.0.0", Published: t0}, at(11))).To(Succeed())
	})

	It("refuses a soak without requirements when the publication time is unknown", func() {
		p := policy.Policy{"canary": {Soak: policy.Duration(10 * time.Minute)}}
		Expect(p.Admit("canary", policy.Evidence{Version: "1.0.0"}, at(11))).To(MatchError(ContainSubstring("soak of 10m0s unknown: the store gave the candidate no publication time")))
	})

	It("refuses an undeclared environment, naming the declared ones", func() {
		Expect(admit("qa", nil, t0)).To(MatchError(ContainSubstring(`environment "qa" is not declared in source.environments (declared: dev1, dev2, production, staging, staging-tests)`)))
	})
})

var _ = Describe("validating a policy", func() {
	DescribeTable("refuses bad rules, naming the key",
		func(p policy.Policy, want string) {
			Expect(p.Validate()).To(MatchError(want))
		},
		Entry("a requirement that is not declared", policy.Policy{"staging": {RequiresAny: []string{"dev3"}}},
			`source.environments.staging.requires_any: environment "dev3" is not declared in source.environments`),
		Entry("an environment requiring itself", policy.Policy{"staging": {RequiresAll: []string{"staging"}}},
			"source.environments.staging.requires_all: an environment cannot require itself"),
		Entry("a name with a slash", policy.Policy{"a/b": {}},
			`source.environments: "a/b" is not a valid environment name (lowercase letters, digits, '-', '_', '.')`),
	)

	It("accepts the corporate policy", func() {
		Expect(corporate.Validate()).To(Succeed())
	})

	It("lists the upstream environments of a rule once each, in name order", func() {
		p := policy.Policy{"a": {}, "b": {}, "c": {RequiresAny: []string{"b", "a"}, RequiresAll: []string{"a"}}}
		Expect(p.Upstream("c")).To(Equal([]string{"a", "b"}))
	})
})

var _ = Describe("reading a soak duration", func() {
	DescribeTable("from JSON",
		func(raw string, want time.Duration, wantErr string) {
			var d policy.Duration
			err := json.Unmarshal([]byte(raw), &d)
			if wantErr != "" {
				Expect(err).To(MatchError(ContainSubstring(wantErr)))
				return
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(time.Duration(d)).To(Equal(want))
		},
		Entry("seconds", `"90s"`, 90*time.Second, ""),
		Entry("hours", `"1h"`, time.Hour, ""),
		Entry("a number", `3600`, time.Duration(0), "must be a duration string"),
		Entry("nonsense", `"soon"`, time.Duration(0), `"soon" is not a duration`),
		Entry("negative", `"-1m"`, time.Duration(0), "is negative"),
	)
})
