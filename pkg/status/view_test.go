package status

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"

	g "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

func redis() policy.Policy {
	return policy.Policy{
		"dev1":          {},
		"dev2":          {},
		"staging":       {RequiresAny: []string{"dev1", "dev2"}, FinalReleases: true},
		"staging-tests": {RequiresAll: []string{"staging"}},
		"production":    {RequiresAll: []string{"staging", "staging-tests"}, Soak: policy.Duration(time.Hour)},
	}
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func final(env string) ([]policy.Release, bool) {
	return []policy.Release{{Name: "redis", Version: "14.0.1", Final: true}}, true
}

var _ = g.Describe("EnvironmentOrder", func() {
	g.It("puts each environment after those it requires, then by name", func() {
		Expect(EnvironmentOrder(redis())).To(Equal([]string{"dev1", "dev2", "staging", "staging-tests", "production"}))
	})
	g.It("ends on a cycle the policy should have refused", func() {
		Expect(EnvironmentOrder(policy.Policy{"a": {RequiresAll: []string{"b"}}, "b": {RequiresAll: []string{"a"}}})).To(ConsistOf("a", "b"))
	})
})

var _ = g.Describe("a cell's decision", func() {
	ev := func(passes ...policy.Pass) policy.Evidence {
		return policy.Evidence{Version: "1.0.1", Published: t0, Passes: passes, Releases: final}
	}
	g.It("is the policy's, word for word, with the soak left", func() {
		var cell Cell
		now := t0.Add(40 * time.Minute)
		Expect(decide(redis(), "production", ev(policy.Pass{Environment: "staging", Time: t0.Add(time.Minute)},
			policy.Pass{Environment: "staging-tests", Time: t0.Add(10 * time.Minute)}), now, &cell)).To(Succeed())
		Expect(cell.Eligible).To(BeFalse())
		Expect(cell.Refusal).To(Equal("candidate 1.0.1 is not admitted to production: soaking: 30m0s left of 1h0m0s"))
		Expect(cell.SoakLeftSeconds).To(Equal(int64(1800)))
		Expect(cell.Label()).To(Equal("soak 30m0s left"))

		cell = Cell{}
		Expect(decide(redis(), "production", ev(), now, &cell)).To(Succeed())
		Expect(cell.SoakLeftSeconds).To(BeZero(), "no soak runs before the requirements are met")
		Expect(cell.Label()).To(Equal("needs staging+staging-tests"))

		cell = Cell{}
		Expect(decide(redis(), "dev2", ev(), now, &cell)).To(Succeed())
		Expect(cell.Eligible).To(BeTrue())
		Expect(cell.Label()).To(Equal("eligible"))
	})
	g.It("refuses a revoked candidate whatever its passes", func() {
		var cell Cell
		e := ev(policy.Pass{Environment: "dev1", Time: t0})
		e.Revoked = "broke replication"
		Expect(decide(redis(), "dev1", e, t0, &cell)).To(Succeed())
		Expect(cell.Eligible).To(BeFalse())
		Expect(cell.Refusal).To(Equal("candidate 1.0.1 is not admitted to dev1: it was revoked (broke replication)"))
		Expect(cell.Label()).To(Equal("revoked"))
	})
	g.It("names releases that are not final or unknown", func() {
		var cell Cell
		e := ev(policy.Pass{Environment: "dev1", Time: t0})
		e.Releases = func(string) ([]policy.Release, bool) { return nil, false }
		Expect(decide(redis(), "staging", e, t0, &cell)).To(Succeed())
		Expect(cell.Label()).To(Equal("releases unknown"))
		e.Releases = func(string) ([]policy.Release, bool) {
			return []policy.Release{{Name: "redis", Version: "14+dev.3"}}, true
		}
		cell = Cell{}
		Expect(decide(redis(), "staging", e, t0, &cell)).To(Succeed())
		Expect(cell.Label()).To(Equal("releases not final"))
		Expect(cell.Refusal).To(ContainSubstring("releases not final: redis 14+dev.3"))
	})
	g.It("labels a pass with its marks and the live one", func() {
		c := Cell{Passes: []Pass{{Time: t0}, {Time: t0, Reset: true, Override: &Override{Reason: "x"}}}, Live: true}
		Expect(c.Label()).To(Equal("passed override reset LIVE"))
	})
})

var _ = g.Describe("explain", func() {
	passes := []EnvPass{
		{Environment: "staging", Pass: Pass{Time: t0.Add(time.Minute)}},
		{Environment: "staging-tests", Pass: Pass{Time: t0.Add(10 * time.Minute)}},
	}
	ev := policy.Evidence{Version: "1.0.1", Published: t0, Releases: final,
		Passes: []policy.Pass{{Environment: "staging", Time: t0.Add(time.Minute)}, {Environment: "staging-tests", Time: t0.Add(10 * time.Minute)}}}

	g.It("lists each requirement met or not, in agreement with the decision", func() {
		x := &Explanation{Version: "1.0.1", Environment: "production", Now: t0.Add(40 * time.Minute)}
		Expect(explain(x, redis(), ev, passes, nil)).To(Succeed())
		Expect(x.Admitted).To(BeFalse())
		Expect(x.Refusal).To(Equal("candidate 1.0.1 is not admitted to production: soaking: 30m0s left of 1h0m0s"))
		var kinds []string
		var met []bool
		for _, r := range x.Requirements {
			kinds, met = append(kinds, r.Kind), append(met, r.Met)
		}
		Expect(kinds).To(Equal([]string{KindNotRevoked, KindRequiresAll, KindRequiresAll, KindSoak}))
		Expect(met).To(Equal([]bool{true, true, true, false}))
		soak := x.Requirements[3]
		Expect(*soak.Since).To(Equal(t0.Add(10 * time.Minute)))
		Expect(soak.SoakLeftSeconds).To(Equal(int64(1800)))
		Expect(soak.Text).To(Equal("soaked 1h0m0s since the requirements were met at 2026-11-25T10:10:00Z: 30m0s left"))

		x = &Explanation{Version: "1.0.1", Environment: "production", Now: t0.Add(2 * time.Hour)}
		Expect(explain(x, redis(), ev, passes, nil)).To(Succeed())
		Expect(x.Admitted).To(BeTrue())
		Expect(x.Refusal).To(BeEmpty())
		for _, r := range x.Requirements {
			Expect(r.Met).To(BeTrue(), r.Text)
		}
	})

	g.It("shows final releases, and a revocation over everything", func() {
		x := &Explanation{Version: "1.0.1", Environment: "staging", Now: t0}
		Expect(explain(x, redis(), ev, passes, &Revocation{Reason: "bad", Time: t0})).To(Succeed())
		Expect(x.Admitted).To(BeFalse())
		Expect(x.Refusal).To(Equal("candidate 1.0.1 is not admitted to staging: it was revoked (bad)"))
		Expect(x.Requirements[0].Met).To(BeFalse())
		Expect(x.Requirements[0].Text).To(Equal("not revoked: revoked at 2026-11-25T10:00:00Z: bad"))
		Expect(x.Requirements[1].Kind).To(Equal(KindRequiresAny))
		Expect(x.Requirements[1].Met).To(BeFalse())
		Expect(x.Requirements[2].Kind).To(Equal(KindFinalReleases))
		Expect(x.Requirements[2].Met).To(BeTrue())
		Expect(x.Requirements[2].Releases).To(Equal([]policy.Release{{Name: "redis", Version: "14.0.1", Final: true}}))

		var b bytes.Buffer
		Expect(WriteExplainText(&b, x)).To(Succeed())
		Expect(b.String()).To(ContainSubstring("  NOT MET  passed one of dev1, dev2\n               no pass yet\n"))
		Expect(b.String()).To(ContainSubstring("  met      every release of the staging manifest is final\n               redis 14.0.1 final\n"))
	})
})

func report() *Report {
	return &Report{
		Store: "s3://b/p/", Policy: 2, Now: t0, Total: 3,
		Environments: []Environment{
			{Name: "dev1", Live: &Deployment{Version: "1.0.1", Time: t0}},
			{Name: "production", Rule: policy.Rule{RequiresAll: []string{"dev1"}, Soak: policy.Duration(time.Hour)}},
		},
		Candidates: []Candidate{{
			Version: "1.0.1", Published: t0,
			Cells: map[string]Cell{
				"dev1": {Live: true, Eligible: true, Passes: []Pass{{Time: t0, Note: "line one\nline two <script>alert(1)</script>",
					Build: Build{Team: "main", Pipeline: "redis", Job: "deploy", Name: "7", URL: "javascript:alert(1)"}}}},
				"production": {Refusal: "candidate 1.0.1 is not admitted to production: soaking: 1h0m0s left of 1h0m0s", SoakLeftSeconds: 3600},
			},
		}},
	}
}

var _ = g.Describe("the views", func() {
	g.It("writes the table, each line whole", func() {
		var b bytes.Buffer
		Expect(WriteStatusText(&b, report())).To(Succeed())
		out := b.String()
		Expect(out).To(HavePrefix("store s3://b/p/ (policy 2), now 2026-11-25T10:00:00Z by the store's clock\nthe newest 1 of 3 candidates (--all shows every one)\n\n"))
		Expect(out).To(ContainSubstring("CANDIDATE  dev1         production\nlive now   1.0.1        -\n1.0.1      passed LIVE  not admitted\n"))
		Expect(out).To(ContainSubstring(`note "line one\nline two <script>alert(1)</script>"`), "a note stays on its line")
		for _, line := range strings.Split(out, "\n") {
			Expect(line).NotTo(HaveSuffix(" "))
		}
	})

	g.It("writes one page with no script and no external asset, escaping what the store holds", func() {
		var b bytes.Buffer
		Expect(WriteHTML(&b, report())).To(Succeed())
		page := b.String()
		Expect(page).NotTo(ContainSubstring("<script"))
		Expect(page).NotTo(ContainSubstring("javascript:"))
		Expect(page).To(ContainSubstring("&lt;script&gt;alert(1)&lt;/script&gt;"))
		Expect(page).To(ContainSubstring("all of dev1; soak 1h0m0s"))
		Expect(page).To(ContainSubstring("soak: 1h0m0s left"))
		Expect(page).To(ContainSubstring(`<td class="passed live">`))
		Expect(page).To(ContainSubstring("the newest 1 of 3 candidates"))
	})

	g.It("writes stable JSON field names", func() {
		var b bytes.Buffer
		Expect(WriteJSON(&b, report())).To(Succeed())
		var doc map[string]any
		Expect(json.Unmarshal(b.Bytes(), &doc)).To(Succeed())
		Expect(doc).To(HaveKey("now"))
		Expect(doc).To(HaveKeyWithValue("total", 3.0))
		cand := doc["candidates"].([]any)[0].(map[string]any)
		cell := cand["environments"].(map[string]any)["production"].(map[string]any)
		Expect(cell).To(HaveKeyWithValue("soak_left_seconds", 3600.0))
		Expect(cell).To(HaveKeyWithValue("eligible", false))
		Expect(cell).To(HaveKeyWithValue("passes", BeNil()), "a report built by hand; Status always gives a list")
	})
})

var _ = g.Describe("Main", func() {
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, &out, &errb, func(string) string { return "" })
		return code, out.String(), errb.String()
	}
	g.It("prints the usage on --help", func() {
		code, out, _ := run("--help")
		Expect(code).To(Equal(0))
		Expect(out).To(Equal(Usage))
		code, out, _ = run("status", "-h")
		Expect(code).To(Equal(0))
		Expect(out).To(Equal(Usage))
	})
	g.DescribeTable("refuses a wrong command line with one line and status 2",
		func(fragment string, args ...string) {
			code, out, errs := run(args...)
			Expect(code).To(Equal(2))
			Expect(out).To(BeEmpty())
			Expect(strings.Count(errs, "\n")).To(Equal(1))
			Expect(errs).To(HavePrefix("error: "))
			Expect(errs).To(ContainSubstring(fragment))
		},
		g.Entry("no command", "give a command"),
		g.Entry("unknown command", `unknown command "stats"`, "stats"),
		g.Entry("no file", "-f SOURCE_FILE is required", "status"),
		g.Entry("status flag elsewhere", "-all is a flag of status only", "history", "prod", "-f", "s.yml", "--all"),
		g.Entry("too few arguments", "explain takes VERSION ENV", "explain", "1.0.0", "-f", "s.yml"),
		g.Entry("arguments to status", "status takes no arguments", "status", "extra", "-f", "s.yml"),
		g.Entry("bad -n", "-n must be at least 1", "status", "-f", "s.yml", "-n", "0"),
		g.Entry("bad --var", "want NAME=VALUE", "status", "-f", "s.yml", "--var", "novalue"),
		g.Entry("unknown flag", "flag provided but not defined: -x", "status", "-x"),
	)
	g.It("takes flags before and after the arguments", func() {
		code, _, errs := run("explain", "-f", "/nonexistent.yml", "1.0.0", "--json", "dev1")
		Expect(code).To(Equal(1))
		Expect(errs).To(HavePrefix("error: reading the source file: "))
	})
})

var _ = g.Describe("explain with the tested upgrade path", func() {
	pol := policy.Policy{
		"staging":    {},
		"production": {RequiresAll: []string{"staging"}, UpgradeTestedIn: "staging"},
	}
	deps := map[string][]policy.Deployment{
		"production": {{Version: "0.1.0", Time: t0}},
		"staging":    {{Version: "0.1.0", Time: t0}, {Version: "0.1.1", Time: t0.Add(time.Minute)}, {Version: "0.1.2", Time: t0.Add(2 * time.Minute)}},
	}
	of := func(env string) (policy.History, bool) { d, ok := deps[env]; return policy.History{Deployments: d}, ok }

	g.It("lists upgrade_tested_in, not met, with the policy's reason", func() {
		ev := policy.Evidence{Version: "0.1.2", Published: t0, Deployments: of,
			Passes: []policy.Pass{{Environment: "staging", Time: t0.Add(2 * time.Minute)}}}
		x := &Explanation{Version: "0.1.2", Environment: "production", Now: t0.Add(time.Hour), Live: &Deployment{Version: "0.1.0"}}
		Expect(explain(x, pol, ev, nil, nil)).To(Succeed())
		Expect(x.Admitted).To(BeFalse())
		last := x.Requirements[len(x.Requirements)-1]
		Expect(last.Kind).To(Equal(KindUpgrade))
		Expect(last.Met).To(BeFalse())
		Expect(last.Text).To(Equal("tested in staging as the upgrade from 0.1.0, what production runs now: staging tested 0.1.2 as an upgrade from 0.1.1, but production runs 0.1.0: reset staging to 0.1.0 and deploy 0.1.2 again"))

		var cell Cell
		Expect(decide(pol, "production", ev, x.Now, &cell)).To(Succeed())
		Expect(cell.Label()).To(Equal("upgrade untested"))
	})

	g.It("explains a reset as admitted with no other requirement", func() {
		ev := policy.Evidence{Version: "0.1.0", Published: t0, Deployments: of}
		x := &Explanation{Version: "0.1.0", Environment: "staging", Now: t0.Add(time.Hour)}
		Expect(explain(x, pol, ev, nil, nil)).To(Succeed())
		Expect(x.Admitted).To(BeTrue())
		Expect(x.Requirements).To(HaveLen(2))
		Expect(x.Requirements[1].Kind).To(Equal(KindReset))
		Expect(x.Requirements[1].Text).To(Equal("a reset: 0.1.0 is what production runs now, so a pass of staging needs no other requirement"))
	})
})

var _ = g.Describe("a cell's short reason", func() {
	g.It("names every kind of refusal, parity and an unknown soak among them", func() {
		c := Cell{refusal: &policy.Refusal{Missing: []string{"staging"}, ParityUnknown: &policy.Parity{With: "staging"}, SoakUnknown: true}}
		Expect(c.Reason()).To(Equal("needs staging, parity unknown, soak unknown"))
	})
})
