package policy_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

var _ = Describe("the tested upgrade path", func() {
	upgrade := policy.Policy{
		"dev1":          {},
		"staging":       {RequiresAny: []string{"dev1"}},
		"staging-tests": {RequiresAll: []string{"staging"}},
		"production":    {RequiresAll: []string{"staging", "staging-tests"}, UpgradeTestedIn: "staging"},
	}
	// deployments are "version@minute" pairs in time order.
	deps := func(pairs ...any) []policy.Deployment {
		var out []policy.Deployment
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, policy.Deployment{Version: pairs[i].(string), Time: at(pairs[i+1].(int))})
		}
		return out
	}
	histories := func(version string, passes []policy.Pass, production, staging policy.History) policy.Evidence {
		return policy.Evidence{
			Version: version, Published: t0, Passes: passes,
			Deployments: func(env string) (policy.History, bool) {
				switch env {
				case "production":
					return production, true
				case "staging":
					return staging, true
				}
				return policy.History{}, false
			},
		}
	}
	// evidence gives whole histories.
	evidence := func(version string, passes []policy.Pass, production, staging []policy.Deployment) policy.Evidence {
		return histories(version, passes, policy.History{Deployments: production}, policy.History{Deployments: staging})
	}
	partial := func(deps []policy.Deployment) policy.History { return policy.History{Deployments: deps, Partial: true} }
	// admitsToProduction expects admission when want is "", else a refusal
	// holding want.
	admitsToProduction := func(ev policy.Evidence, want string) {
		err := upgrade.Admit("production", ev, at(100))
		if want == "" {
			Expect(err).NotTo(HaveOccurred())
			return
		}
		Expect(err).To(MatchError(ContainSubstring(want)))
	}

	DescribeTable("admitting to production",
		admitsToProduction,
		Entry("admits the upgrade staging tested after a reset to what production runs",
			evidence("0.1.1", passes("dev1", 1, "staging", 11, "staging-tests", 12),
				deps("0.0.9", 0), deps("0.0.9", 10, "0.1.1", 11)), ""),
		Entry("holds vacuously when nothing is deployed to production yet",
			evidence("0.1.1", passes("dev1", 1, "staging", 11, "staging-tests", 12), nil, deps("0.1.1", 11)), ""),
		Entry("refuses when staging was not reset first",
			evidence("0.1.1", passes("dev1", 1, "staging", 11, "staging-tests", 12),
				deps("0.0.9", 0), deps("0.1.0", 10, "0.1.1", 11)),
			"staging tested 0.1.1 as an upgrade from 0.1.0, but production runs 0.0.9: reset staging to 0.0.9 and deploy 0.1.1 again"),
		Entry("refuses when production was rolled back since staging tested",
			evidence("0.1.1", passes("dev1", 1, "staging", 11, "staging-tests", 12),
				deps("0.1.0", 0, "0.0.9", 50), deps("0.1.0", 10, "0.1.1", 11)),
			"staging tested 0.1.1 as an upgrade from 0.1.0, but production runs 0.0.9"),
		Entry("refuses when staging-tests passed after staging moved on",
			evidence("0.1.1", passes("dev1", 1, "staging", 11, "staging-tests", 13),
				deps("0.0.9", 0), deps("0.0.9", 10, "0.1.1", 11, "0.1.2", 12)),
			"staging-tests did not pass 0.1.1 while staging ran it as the upgrade from 0.0.9 (staging moved on to 0.1.2)"),
		Entry("refuses a fresh install of staging",
			evidence("0.1.1", passes("dev1", 1, "staging", 11, "staging-tests", 12), deps("0.0.9", 0), deps("0.1.1", 11)),
			"staging tested 0.1.1 as a fresh install, but production runs 0.0.9"),
		Entry("refuses tests recorded within the clock's resolution of staging moving on: their order is unknown",
			evidence("0.1.1", passes("dev1", 1, "staging", 11, "staging-tests", 12),
				[]policy.Deployment{{Version: "0.0.9", Time: at(0)}}, []policy.Deployment{{Version: "0.0.9", Time: at(10)}, {Version: "0.1.1", Time: at(11)}, {Version: "0.1.2", Time: at(12).Add(500 * time.Millisecond)}}),
			"staging-tests did not pass 0.1.1 while staging ran it"),
		Entry("admits when an earlier run of the candidate was the tested upgrade",
			evidence("0.1.1", passes("dev1", 1, "staging", 11, "staging-tests", 12, "staging", 21),
				deps("0.0.9", 0), deps("0.0.9", 10, "0.1.1", 11, "0.1.0", 20, "0.1.1", 21)), ""),
	)

	DescribeTable("admitting to production on partial histories: production's newest deployment, staging's since it first ran that",
		admitsToProduction,
		Entry("admits the upgrade staging tested from what production runs",
			histories("0.1.1", passes("dev1", 1, "staging", 11, "staging-tests", 12),
				partial(deps("0.0.9", 5)), partial(deps("0.0.9", 10, "0.1.1", 11))), ""),
		Entry("refuses a candidate staging ran only before it first ran what production runs",
			histories("0.1.0", passes("dev1", 1, "staging", 8, "staging-tests", 9),
				partial(deps("0.0.9", 5)), partial(deps("0.0.9", 10, "0.1.1", 11))),
			"staging has not run 0.1.0 since it first ran 0.0.9, what production runs: reset staging to 0.0.9, then deploy 0.1.0"),
		Entry("refuses when staging never ran what production runs",
			histories("0.1.1", passes("dev1", 1, "staging", 11, "staging-tests", 12),
				partial(deps("0.0.9", 5)), partial(nil)),
			"staging never ran 0.0.9, what production runs: reset staging to 0.0.9, then deploy 0.1.1"),
		Entry("does not take the first deployment read as following anything",
			histories("0.1.1", passes("dev1", 1, "staging", 11, "staging-tests", 12),
				partial(deps("0.0.9", 5)), partial(deps("0.1.1", 11))),
			"staging has not run 0.1.1 since it first ran 0.0.9"),
		Entry("still refuses the newest run when it is not the tested upgrade",
			histories("0.1.1", passes("dev1", 1, "staging", 11, "staging-tests", 12),
				partial(deps("0.0.9", 5)), partial(deps("0.0.9", 10, "0.1.0", 11, "0.1.1", 12))),
			"staging tested 0.1.1 as an upgrade from 0.1.0, but production runs 0.0.9"),
	)

	It("fails, without admitting, on a partial production history that holds no deployment", func() {
		ev := histories("0.1.1", passes("dev1", 1, "staging", 11, "staging-tests", 12), partial(nil), partial(deps("0.0.9", 10, "0.1.1", 11)))
		Expect(upgrade.Admit("production", ev, at(100))).To(MatchError(ContainSubstring("were not read")))
		Expect(upgrade.IsReset("staging", ev)).To(BeFalse())
	})

	It("admits a reset of staging to what production runs without any other requirement, and only that", func() {
		ev := evidence("0.0.9", nil, deps("0.0.9", 0), deps("0.1.0", 10))
		Expect(upgrade.IsReset("staging", ev)).To(BeTrue())
		Expect(upgrade.Admit("staging", ev, at(100))).To(Succeed())
		other := evidence("0.1.0", nil, deps("0.0.9", 0), nil)
		Expect(upgrade.IsReset("staging", other)).To(BeFalse())
		Expect(upgrade.Admit("staging", other, at(100))).To(MatchError(ContainSubstring("needs a pass in one of dev1")))
	})

	It("names the environments whose deployments a decision reads, and how much of each", func() {
		Expect(upgrade.HistoryNeeds("production")).To(Equal([]policy.HistoryNeed{{Env: "production"}, {Env: "staging", UpgradeOf: "production"}}))
		Expect(upgrade.HistoryNeeds("staging")).To(Equal([]policy.HistoryNeed{{Env: "production"}}))
		Expect(upgrade.HistoryNeeds("dev1")).To(BeEmpty())

		chained := policy.Policy{"dev1": {}, "staging": {UpgradeTestedIn: "dev1"}, "production": {UpgradeTestedIn: "staging"}}
		Expect(chained.HistoryNeeds("staging")).To(Equal([]policy.HistoryNeed{{Env: "dev1", UpgradeOf: "staging"}, {Env: "production"}, {Env: "staging"}}))
		Expect(chained.HistoryNeeds("production")).To(Equal([]policy.HistoryNeed{{Env: "production"}, {Env: "staging", UpgradeOf: "production"}}))
		twoWays := policy.Policy{"dev1": {UpgradeTestedIn: "staging"}, "staging": {UpgradeTestedIn: "dev1"}}
		Expect(twoWays.HistoryNeeds("staging")).To(Equal([]policy.HistoryNeed{{Env: "dev1", Whole: true}, {Env: "staging"}}), "dev1 is needed two ways: whole")
	})

	It("fails, without admitting, when the deployments were not read", func() {
		err := upgrade.Admit("production", policy.Evidence{Version: "0.1.1", Passes: passes("staging", 1, "staging-tests", 2)}, at(100))
		Expect(err).To(MatchError(ContainSubstring("were not read")))
	})

	DescribeTable("refuses a rule that links to what is not there",
		func(p policy.Policy, want string) {
			Expect(p.Validate()).To(MatchError(ContainSubstring(want)))
		},
		Entry("an undeclared upgrade environment", policy.Policy{"production": {UpgradeTestedIn: "staging"}}, `upgrade_tested_in: environment "staging" is not declared`),
		Entry("its own upgrades", policy.Policy{"production": {UpgradeTestedIn: "production"}}, "cannot test its own upgrades"),
		Entry("parity with an undeclared environment", policy.Policy{"production": {Parity: &policy.Parity{With: "staging"}}}, `parity.with: environment "staging" is not declared`),
		Entry("a parity path that is not go-patch", policy.Policy{"staging": {}, "production": {Parity: &policy.Parity{With: "staging", Allow: []string{"instance_groups"}}}}, "parity.allow[0]"),
	)
})

var _ = Describe("the deployments a decision reads", func() {
	It("are none when there is no decision to make", func() {
		p := policy.Policy{"dev1": {}, "staging": {}, "production": {UpgradeTestedIn: "staging"}}
		Expect(p.HistoryNeeds("")).To(BeEmpty())
		Expect(p.HistoryNeeds("dev1")).To(BeEmpty())
	})
})

var _ = Describe("a parity rule at admission", func() {
	p := policy.Policy{"staging": {}, "production": {Parity: &policy.Parity{With: "staging"}}}
	DescribeTable("admits only what was checked against the rule as it is now",
		func(checked func(string) bool, want string) {
			err := p.Admit("production", policy.Evidence{Version: "1.0.0", ParityChecked: checked}, at(0))
			if want == "" {
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("checked", func(string) bool { return true }, ""),
		Entry("published before the rule", func(string) bool { return false }, "parity with staging unknown: publish the templates again"),
		Entry("nothing known", nil, "parity with staging unknown"),
	)
})
