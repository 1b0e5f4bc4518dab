package integration_test

import (
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The documented JSON of the candidates CLI (README, "The status view"),
// as a script would read it.
type cliStatusJSON struct {
	Store            string    `json:"store"`
	Policy           int       `json:"policy"`
	SemverConstraint string    `json:"semver_constraint"`
	Now              time.Time `json:"now"`
	Total            int       `json:"total"`
	Environments     []struct {
		Name string         `json:"name"`
		Rule map[string]any `json:"rule"`
		Live *cliDeployJSON `json:"live"`
	} `json:"environments"`
	Candidates []struct {
		Version   string    `json:"version"`
		Published time.Time `json:"published"`
		Revoked   *struct {
			Reason string       `json:"reason"`
			Time   time.Time    `json:"time"`
			Build  cliBuildJSON `json:"build"`
		} `json:"revoked"`
		Environments map[string]cliCellJSON `json:"environments"`
	} `json:"candidates"`
}

type cliDeployJSON struct {
	Version string    `json:"version"`
	Time    time.Time `json:"time"`
}

type cliCellJSON struct {
	Passes          []cliPassJSON `json:"passes"`
	Live            bool          `json:"live"`
	Eligible        bool          `json:"eligible"`
	Refusal         string        `json:"refusal"`
	SoakLeftSeconds int64         `json:"soak_left_seconds"`
}

type cliBuildJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Job       string `json:"job"`
	Pipeline  string `json:"pipeline"`
	Team      string `json:"team"`
	URL       string `json:"url"`
	CreatedBy string `json:"created_by"`
}

type cliPassJSON struct {
	Environment string       `json:"environment"` // explain's passes only
	Time        time.Time    `json:"time"`
	Build       cliBuildJSON `json:"build"`
	Note        string       `json:"note"`
	Override    *struct {
		Reason  string `json:"reason"`
		Refusal string `json:"refusal"`
	} `json:"override"`
	Reset      bool `json:"reset"`
	Unreadable bool `json:"unreadable"`
}

type cliExplainJSON struct {
	Store        string    `json:"store"`
	Policy       int       `json:"policy"`
	Now          time.Time `json:"now"`
	Version      string    `json:"version"`
	Environment  string    `json:"environment"`
	Published    time.Time `json:"published"`
	Admitted     bool      `json:"admitted"`
	Refusal      string    `json:"refusal"`
	Requirements []struct {
		Kind         string        `json:"kind"`
		Text         string        `json:"text"`
		Met          bool          `json:"met"`
		Environments []string      `json:"environments"`
		Passes       []cliPassJSON `json:"passes"`
		Releases     []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Final   bool   `json:"final"`
		} `json:"releases"`
		ReleasesKnown   *bool      `json:"releases_known"`
		SoakSeconds     int64      `json:"soak_seconds"`
		Since           *time.Time `json:"since"`
		SoakLeftSeconds int64      `json:"soak_left_seconds"`
		Revoked         *struct {
			Reason string `json:"reason"`
		} `json:"revoked"`
	} `json:"requirements"`
	Passes []cliPassJSON  `json:"passes"`
	Live   *cliDeployJSON `json:"live"`
}

type cliHistoryJSON struct {
	Store            string         `json:"store"`
	Policy           int            `json:"policy"`
	Now              time.Time      `json:"now"`
	Environment      string         `json:"environment"`
	SemverConstraint string         `json:"semver_constraint"`
	Live             *cliDeployJSON `json:"live"`
	Deployments      []struct {
		Version string `json:"version"`
		cliPassJSON
		Live    bool `json:"live"`
		Revoked bool `json:"revoked"`
	} `json:"deployments"`
}

// cliGridRow finds the row of the status table that starts with first and
// splits it into its cells (columns are two or more spaces apart).
func cliGridRow(out, first string) []string {
	GinkgoHelper()
	table, _, _ := strings.Cut(out, "\n\n"+"1.") // the table ends before the first candidate's details
	for _, line := range strings.Split(table, "\n") {
		cells := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		if cells[0] == first {
			return cells
		}
	}
	Fail("no row " + first + " in the status table:\n" + out)
	return nil
}

// cliDOMText is the text of a DOM, as a reader sees it.
func cliDOMText(dom string) string {
	text := regexp.MustCompile(`(?s)<style.*?</style>|<[^>]*>`).ReplaceAllString(dom, " ")
	return strings.Join(strings.Fields(html.UnescapeString(text)), " ")
}

var _ = Describe("candidates: the status view", Ordered, ContinueOnFailure, func() {
	var (
		bucket  string
		src     map[string]any // with the policy: the first publish stores it
		file    string         // the source file the CLI reads (no environments)
		policy  map[string]any
		started time.Time
	)

	// The story, through out alone: four candidates, the newest revoked.
	// 1.0.0 went dev1 → staging → staging-tests, then to production by
	// break-glass while it soaked; 1.0.1 went dev1 → staging →
	// staging-tests, where production's soak of 1h now holds it back.
	BeforeAll(func() {
		started = time.Now()
		bucket = newBucket()
		policy = redisPolicy()
		policy["production"] = map[string]any{"requires_all": []string{"staging", "staging-tests"}, "soak": "1h", "allow_override": true}
		src = source(bucket, map[string]any{"environments": policy})
		file = cliSourceFile(source(bucket, map[string]any{"environments": nil}), false)

		for _, v := range []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3"} {
			publish(src, redisTemplates("status-"+v), v)
		}
		cliPassBy(src, "1.0.0", "dev1", "", "deploy-dev1", "1")
		cliPassBy(src, "1.0.0", "staging", "first staging", "deploy-staging", "1")
		cliPassBy(src, "1.0.0", "staging-tests", "", "staging-tests", "1")
		cliOverride(src, "1.0.0", "production", "CVE-2026-1234 hotfix", "incident 42", "deploy-production", "1")
		cliPassBy(src, "1.0.1", "dev1", "", "deploy-dev1", "2")
		cliPassBy(src, "1.0.1", "staging", "", "deploy-staging", "2")
		cliPassBy(src, "1.0.1", "staging-tests", "", "staging-tests", "2")
		cliRevoke(src, "1.0.3", "broke replication")
	})

	Describe("status", func() {
		It("shows candidates × environments: passes, live markers, eligible now or why not, soak left, revoked", func() {
			out := candidatesOK("status", "-f", file)
			Expect(out).To(ContainSubstring("store s3://" + bucket + "/ (policy 1)"))
			Expect(out).To(ContainSubstring("4 candidates"))

			By("environments in promotion order, and what is live in each")
			Expect(cliGridRow(out, "CANDIDATE")).To(Equal([]string{"CANDIDATE", "dev1", "dev2", "staging", "staging-tests", "production"}))
			Expect(cliGridRow(out, "live now")).To(Equal([]string{"live now", "1.0.1", "-", "1.0.1", "1.0.1", "1.0.0"}))

			By("the newest first, each cell passed (with its marks), eligible, or the reason it is not")
			Expect(cliGridRow(out, "1.0.3 REVOKED")).To(Equal([]string{"1.0.3 REVOKED", "revoked", "revoked", "revoked", "revoked", "revoked"}))
			Expect(cliGridRow(out, "1.0.2")).To(Equal([]string{"1.0.2", "eligible", "eligible", "needs one of dev1/dev2", "needs staging", "needs staging+staging-tests"}))
			row := cliGridRow(out, "1.0.1")
			Expect(row[:5]).To(Equal([]string{"1.0.1", "passed LIVE", "eligible", "passed LIVE", "passed LIVE"}))
			Expect(row[5]).To(MatchRegexp(`^soak (\d+h)?(\d+m)?\d+s left$`))
			Expect(cliGridRow(out, "1.0.0")).To(Equal([]string{"1.0.0", "passed", "eligible", "passed", "passed", "passed override LIVE"}))

			By("each pass with its time, build, who and link; each refusal word for word")
			Expect(out).To(MatchRegexp(`(?m)^  dev1 +passed \S+ by main/redis/deploy-dev1 #2 \(triggered by alice\) ` +
				regexp.QuoteMeta(cliBuildURL("deploy-dev1", "2")) + ` \[live\]$`))
			Expect(out).To(ContainSubstring(`by main/redis/deploy-staging #1 (triggered by alice) ` + cliBuildURL("deploy-staging", "1") + ` note "first staging"`))
			Expect(out).To(MatchRegexp(`note "incident 42" \[override: CVE-2026-1234 hotfix; it overrode: candidate 1\.0\.0 is not admitted to production: soaking: (\d+h)?(\d+m)?\d+s left of 1h0m0s\] \[live\]`))
			Expect(out).To(ContainSubstring("not admitted: candidate 1.0.2 is not admitted to staging: needs a pass in one of dev1, dev2 (none yet)"))
			Expect(out).To(ContainSubstring("not admitted: candidate 1.0.2 is not admitted to production: missing passes: staging, staging-tests"))
			Expect(out).To(MatchRegexp(`not admitted: candidate 1\.0\.1 is not admitted to production: soaking: (\d+h)?(\d+m)?\d+s left of 1h0m0s`))
			Expect(out).To(MatchRegexp(`(?m)^  REVOKED at \S+ by main/redis/revoke #3: broke replication$`))
		})

		It("gives the same view as stable JSON", func() {
			var r cliStatusJSON
			candidatesJSON(&r, "status", "-f", file)
			Expect(r.Store).To(Equal("s3://" + bucket + "/"))
			Expect(r.Policy).To(Equal(1))
			Expect(r.Total).To(Equal(4))
			By("now is the store's clock")
			Expect(r.Now).To(BeTemporally("~", time.Now(), time.Minute))
			Expect(r.Now).To(BeTemporally(">", started.Add(-2*time.Second)))

			var names []string
			live := map[string]string{}
			for _, e := range r.Environments {
				names = append(names, e.Name)
				if e.Live != nil {
					live[e.Name] = e.Live.Version
				}
			}
			Expect(names).To(Equal([]string{"dev1", "dev2", "staging", "staging-tests", "production"}))
			Expect(live).To(Equal(map[string]string{"dev1": "1.0.1", "staging": "1.0.1", "staging-tests": "1.0.1", "production": "1.0.0"}))
			Expect(r.Environments[4].Rule).To(HaveKeyWithValue("soak", "1h0m0s"))

			var versions []string
			for _, c := range r.Candidates {
				versions = append(versions, c.Version)
				Expect(c.Environments).To(HaveLen(5))
				Expect(c.Published).To(BeTemporally("~", time.Now(), 5*time.Minute))
			}
			Expect(versions).To(Equal([]string{"1.0.3", "1.0.2", "1.0.1", "1.0.0"}))

			v103, v102, v101, v100 := r.Candidates[0], r.Candidates[1], r.Candidates[2], r.Candidates[3]
			Expect(v103.Revoked).NotTo(BeNil())
			Expect(v103.Revoked.Reason).To(Equal("broke replication"))
			Expect(v103.Environments["dev1"].Eligible).To(BeFalse())
			Expect(v103.Revoked.Build.URL).To(Equal(cliBuildURL("revoke", "3")))
			Expect(v103.Revoked.Time).To(BeTemporally("~", time.Now(), time.Minute))
			Expect(v103.Environments["dev1"].Refusal).To(Equal("candidate 1.0.3 is not admitted to dev1: it was revoked (broke replication)"))
			Expect(v102.Revoked).To(BeNil())

			Expect(v102.Environments["dev1"].Eligible).To(BeTrue())
			Expect(v102.Environments["dev1"].Refusal).To(BeEmpty())
			Expect(v102.Environments["staging"].Eligible).To(BeFalse())
			Expect(v102.Environments["staging"].Refusal).To(Equal("candidate 1.0.2 is not admitted to staging: needs a pass in one of dev1, dev2 (none yet)"))
			Expect(v102.Environments["staging"].Passes).To(BeEmpty())

			prod := v101.Environments["production"]
			Expect(prod.Eligible).To(BeFalse())
			Expect(prod.SoakLeftSeconds).To(BeNumerically(">", 3000))
			Expect(prod.SoakLeftSeconds).To(BeNumerically("<=", 3600))
			Expect(prod.Refusal).To(ContainSubstring("soaking: "))

			dev1 := v101.Environments["dev1"]
			Expect(dev1.Live).To(BeTrue())
			Expect(dev1.Passes).To(HaveLen(1))
			Expect(dev1.Passes[0].Build).To(Equal(cliBuildJSON{ID: "102", Name: "2", Job: "deploy-dev1", Pipeline: "redis", Team: "main",
				URL: cliBuildURL("deploy-dev1", "2"), CreatedBy: "alice"}))
			Expect(dev1.Passes[0].Time).To(BeTemporally("~", time.Now(), 5*time.Minute))
			Expect(v100.Environments["dev1"].Live).To(BeFalse())

			staging := v100.Environments["staging"]
			Expect(staging.Passes).To(HaveLen(1))
			Expect(staging.Passes[0].Note).To(Equal("first staging"))
			Expect(staging.Passes[0].Reset).To(BeFalse())
			Expect(staging.Live).To(BeFalse())

			override := v100.Environments["production"]
			Expect(override.Live).To(BeTrue())
			Expect(override.Passes).To(HaveLen(1))
			Expect(override.Passes[0].Override).NotTo(BeNil())
			Expect(override.Passes[0].Override.Reason).To(Equal("CVE-2026-1234 hotfix"))
			Expect(override.Passes[0].Override.Refusal).To(ContainSubstring("soaking"))
			Expect(override.Passes[0].Build.CreatedBy).To(Equal("bob"))
		})

		It("shows the newest N candidates, or every one with --all", func() {
			out := candidatesOK("status", "-f", file, "-n", "2")
			Expect(out).To(ContainSubstring("the newest 2 of 4 candidates (--all shows every one)"))
			cliGridRow(out, "1.0.3 REVOKED")
			cliGridRow(out, "1.0.2")
			Expect(out).NotTo(MatchRegexp(`(?m)^1\.0\.1 `))
			Expect(out).NotTo(MatchRegexp(`(?m)^1\.0\.0 `))
			By("the live marker still names what runs, even when it is older than the rows shown")
			Expect(cliGridRow(out, "live now")).To(Equal([]string{"live now", "1.0.1", "-", "1.0.1", "1.0.1", "1.0.0"}))

			var r cliStatusJSON
			candidatesJSON(&r, "status", "-f", file, "-n", "2")
			Expect(r.Total).To(Equal(4))
			Expect(r.Candidates).To(HaveLen(2))
			Expect(r.Candidates[1].Version).To(Equal("1.0.2"))
			Expect(r.Candidates[1].Environments["staging"].Refusal).To(ContainSubstring("needs a pass in one of dev1, dev2"))

			candidatesJSON(&r, "status", "-f", file, "-n", "2", "--all")
			Expect(r.Candidates).To(HaveLen(4))
		})

		It("writes one self-contained HTML page that a browser renders with the same table", func() {
			page := filepath.Join(GinkgoT().TempDir(), "status.html")
			out := candidatesOK("status", "-f", file, "--html", page)
			Expect(out).To(ContainSubstring("live now"), "stdout still has the text view")

			raw, err := os.ReadFile(page)
			Expect(err).NotTo(HaveOccurred())
			By("no external asset and no script")
			for _, external := range []string{"<script", "<link", "src=", "url(", "@import", "<iframe", "<object"} {
				Expect(strings.ToLower(string(raw))).NotTo(ContainSubstring(external))
			}

			dom := cliChromiumDOM(page)
			text := cliDOMText(dom)
			for _, env := range []string{"dev1", "dev2", "staging", "staging-tests", "production"} {
				Expect(text).To(ContainSubstring(env))
			}
			for _, v := range []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3"} {
				Expect(dom).To(ContainSubstring(`id="v` + v + `"`))
			}
			Expect(text).To(ContainSubstring("live now live 1.0.1 since"))
			Expect(text).To(ContainSubstring("candidate 1.0.2 is not admitted to staging: needs a pass in one of dev1, dev2 (none yet)"))
			Expect(text).To(ContainSubstring("revoked broke replication"))
			Expect(text).To(ContainSubstring("override CVE-2026-1234 hotfix"))
			Expect(text).To(MatchRegexp(`soak: (\d+h)?(\d+m)?\d+s left`))
			Expect(text).To(ContainSubstring("by the store's clock"))

			By("each row holds its own cells: the live marker on 1.0.0 in production, the build link on 1.0.1 in dev1")
			rows := strings.Split(dom, "<tr ")
			var v100, v101 string
			for _, r := range rows {
				switch {
				case strings.Contains(r, `id="v1.0.0"`):
					v100 = r
				case strings.Contains(r, `id="v1.0.1"`):
					v101 = r
				}
			}
			Expect(cliDOMText("<tr " + v100)).To(MatchRegexp(`passed \S+ main/redis/deploy-production #1 \(triggered by bob\) incident 42 override CVE-2026-1234 hotfix overrode: .* live`))
			Expect(v101).To(ContainSubstring(`<a href="` + cliBuildURL("deploy-dev1", "2") + `">main/redis/deploy-dev1 #2</a>`))
			Expect(strings.Count(v100, "<td")).To(Equal(5))
		})
	})

	Describe("explain", func() {
		It("lists every requirement with whether it is met, and the refusal", func() {
			out := candidatesOK("explain", "1.0.1", "production", "-f", file)
			Expect(out).To(HavePrefix("candidate 1.0.1 for production: NOT ADMITTED now\n"))
			Expect(out).To(MatchRegexp(`(?m)^  met +not revoked$`))
			Expect(out).To(MatchRegexp(`(?m)^  met +passed staging\n +staging passed \S+ by main/redis/deploy-staging #2 \(triggered by alice\) ` + regexp.QuoteMeta(cliBuildURL("deploy-staging", "2")) + `$`))
			Expect(out).To(MatchRegexp(`(?m)^  met +passed staging-tests$`))
			Expect(out).To(MatchRegexp(`(?m)^  NOT MET +soaked 1h0m0s since the requirements were met at \S+: (\d+h)?(\d+m)?\d+s left$`))
			Expect(out).To(MatchRegexp(`(?m)^refused: candidate 1\.0\.1 is not admitted to production: soaking: (\d+h)?(\d+m)?\d+s left of 1h0m0s$`))
			Expect(out).To(MatchRegexp(`(?m)^live in production: 1\.0\.0, deployed \S+$`))
			Expect(out).To(ContainSubstring("1.0.1 has not passed production"))

			var x cliExplainJSON
			candidatesJSON(&x, "explain", "1.0.1", "production", "-f", file)
			Expect(x.Admitted).To(BeFalse())
			Expect(x.Version).To(Equal("1.0.1"))
			Expect(x.Environment).To(Equal("production"))
			Expect(x.Refusal).To(HavePrefix("candidate 1.0.1 is not admitted to production: soaking: "))
			Expect(x.Now).To(BeTemporally("~", time.Now(), time.Minute))
			Expect(x.Live).NotTo(BeNil())
			Expect(x.Live.Version).To(Equal("1.0.0"))
			var kinds []string
			for _, r := range x.Requirements {
				kinds = append(kinds, r.Kind)
			}
			Expect(kinds).To(Equal([]string{"not_revoked", "requires_all", "requires_all", "soak"}))
			Expect(x.Requirements[1].Met).To(BeTrue())
			Expect(x.Requirements[1].Environments).To(Equal([]string{"staging"}))
			Expect(x.Requirements[1].Passes).To(HaveLen(1))
			Expect(x.Requirements[1].Passes[0].Environment).To(Equal("staging"))
			Expect(x.Requirements[1].Passes[0].Build.URL).To(Equal(cliBuildURL("deploy-staging", "2")))
			soak := x.Requirements[3]
			Expect(soak.Met).To(BeFalse())
			Expect(soak.SoakSeconds).To(Equal(int64(3600)))
			Expect(soak.SoakLeftSeconds).To(BeNumerically(">", 3000))
			Expect(soak.Since).NotTo(BeNil())
			Expect(*soak.Since).To(Equal(x.Requirements[2].Passes[0].Time), "the soak counts from the last requirement's first pass")
		})

		It("says which of requires_any is missing, and admits what the policy admits", func() {
			out := candidatesOK("explain", "1.0.2", "staging", "-f", file)
			Expect(out).To(HavePrefix("candidate 1.0.2 for staging: NOT ADMITTED now\n"))
			Expect(out).To(MatchRegexp(`(?m)^  NOT MET +passed one of dev1, dev2\n +no pass yet$`))
			Expect(out).To(ContainSubstring("refused: candidate 1.0.2 is not admitted to staging: needs a pass in one of dev1, dev2 (none yet)"))

			out = candidatesOK("explain", "1.0.2", "dev2", "-f", file)
			Expect(out).To(HavePrefix("candidate 1.0.2 for dev2: ADMITTED now: a pass of dev2 would be recorded\n"))
			Expect(out).To(ContainSubstring("(dev2 has no other requirement)"))
			Expect(out).To(ContainSubstring("live in dev2: nothing deployed yet"))
			Expect(out).NotTo(ContainSubstring("refused:"))

			var x cliExplainJSON
			candidatesJSON(&x, "explain", "1.0.1", "staging", "-f", file)
			Expect(x.Admitted).To(BeTrue())
			Expect(x.Refusal).To(BeEmpty())
			Expect(x.Requirements).To(HaveLen(2))
			Expect(x.Requirements[1].Kind).To(Equal("requires_any"))
			Expect(x.Requirements[1].Met).To(BeTrue())
			Expect(x.Requirements[1].Environments).To(Equal([]string{"dev1", "dev2"}))
			Expect(x.Passes).To(HaveLen(1), "1.0.1's own pass of staging")
			Expect(x.Live.Version).To(Equal("1.0.1"))
		})

		It("refuses a revoked candidate everywhere, and shows a break-glass pass as an override", func() {
			out := candidatesOK("explain", "1.0.3", "dev1", "-f", file)
			Expect(out).To(HavePrefix("candidate 1.0.3 for dev1: NOT ADMITTED now\n"))
			Expect(out).To(MatchRegexp(`(?m)^  NOT MET +not revoked: revoked at \S+ by main/redis/revoke #3: broke replication$`))
			Expect(out).To(ContainSubstring("refused: candidate 1.0.3 is not admitted to dev1: it was revoked (broke replication)"))

			var x cliExplainJSON
			candidatesJSON(&x, "explain", "1.0.0", "production", "-f", file)
			Expect(x.Passes).To(HaveLen(1))
			Expect(x.Passes[0].Override).NotTo(BeNil())
			Expect(x.Passes[0].Override.Reason).To(Equal("CVE-2026-1234 hotfix"))
		})

		It("fails with one line for an unknown environment or candidate", func() {
			sess := runCandidates(nil, "explain", "1.0.1", "prodution", "-f", file)
			Expect(sess.ExitCode()).To(Equal(1))
			expectRefusal(sess, `"prodution" is not declared`, "production")

			sess = runCandidates(nil, "explain", "9.9.9", "staging", "-f", file)
			Expect(sess.ExitCode()).To(Equal(1))
			expectRefusal(sess, "candidate 9.9.9 does not exist")

			sess = runCandidates(nil, "explain", "1.0.1", "-f", file)
			Expect(sess.ExitCode()).To(Equal(2))
			expectRefusal(sess, "explain takes VERSION ENV")
		})
	})

	Describe("history", func() {
		It("lists an environment's deployments in time order, newest last, the live one marked", func() {
			out := candidatesOK("history", "staging", "-f", file)
			Expect(out).To(HavePrefix("deployments of staging, oldest first"))
			var lines []string
			for _, l := range strings.Split(out, "\n") {
				if regexp.MustCompile(`^\d{4}-`).MatchString(l) {
					lines = append(lines, l)
				}
			}
			Expect(lines).To(HaveLen(2))
			Expect(lines[0]).To(MatchRegexp(`^\S+ +1\.0\.0 +- +main/redis/deploy-staging #1 \(alice\) +` + regexp.QuoteMeta(cliBuildURL("deploy-staging", "1")) + ` +first staging$`))
			Expect(lines[1]).To(MatchRegexp(`^\S+ +1\.0\.1 +LIVE +main/redis/deploy-staging #2 \(alice\) +` + regexp.QuoteMeta(cliBuildURL("deploy-staging", "2")) + `$`))

			var h cliHistoryJSON
			candidatesJSON(&h, "history", "staging", "-f", file)
			Expect(h.Environment).To(Equal("staging"))
			Expect(h.Live).NotTo(BeNil())
			Expect(h.Live.Version).To(Equal("1.0.1"))
			Expect(h.Deployments).To(HaveLen(2))
			Expect([]string{h.Deployments[0].Version, h.Deployments[1].Version}).To(Equal([]string{"1.0.0", "1.0.1"}))
			Expect([]bool{h.Deployments[0].Live, h.Deployments[1].Live}).To(Equal([]bool{false, true}))
			Expect(h.Deployments[1].Time).To(BeTemporally(">", h.Deployments[0].Time))
			Expect(h.Deployments[0].Note).To(Equal("first staging"))
			Expect(h.Deployments[1].Build.URL).To(Equal(cliBuildURL("deploy-staging", "2")))

			out = candidatesOK("history", "production", "-f", file)
			Expect(out).To(MatchRegexp(`(?m)^\S+ +1\.0\.0 +LIVE,override +main/redis/deploy-production #1 \(bob\) +\S+ +incident 42$`))
			Expect(out).To(MatchRegexp(`was an override: CVE-2026-1234 hotfix \(it overrode: candidate 1\.0\.0 is not admitted to production: soaking: (\d+h)?(\d+m)?\d+s left of 1h0m0s\)`))

			out = candidatesOK("history", "dev2", "-f", file)
			Expect(out).To(HavePrefix("no deployments of dev2 yet"))
			candidatesJSON(&h, "history", "dev2", "-f", file)
			Expect(h.Deployments).To(BeEmpty())
		})
	})

	Describe("a version line (source.semver_constraint)", func() {
		It("shows only the candidates and deployments of the line, and refuses to explain another", func() {
			line := cliSourceFile(source(bucket, map[string]any{"environments": nil, "semver_constraint": ">= 1.0.2"}), false)
			out := candidatesOK("status", "-f", line)
			Expect(out).To(HavePrefix("store s3://" + bucket + "/ (policy 1), versions >= 1.0.2, now "))
			Expect(out).To(ContainSubstring("2 candidates"))
			cliGridRow(out, "1.0.2")
			Expect(out).NotTo(MatchRegexp(`(?m)^1\.0\.[01] `))
			By("the live markers still say what runs")
			Expect(cliGridRow(out, "live now")).To(Equal([]string{"live now", "1.0.1", "-", "1.0.1", "1.0.1", "1.0.0"}))

			var r cliStatusJSON
			candidatesJSON(&r, "status", "-f", line)
			Expect(r.SemverConstraint).To(Equal(">= 1.0.2"))
			Expect(r.Total).To(Equal(2))

			out = candidatesOK("history", "staging", "-f", line)
			Expect(out).To(HavePrefix("no deployments of staging, versions >= 1.0.2 yet"))
			Expect(out).To(ContainSubstring("live in staging: 1.0.1, outside source.semver_constraint"))

			sess := runCandidates(nil, "explain", "1.0.1", "staging", "-f", line)
			Expect(sess.ExitCode()).To(Equal(1))
			expectRefusal(sess, `VERSION: 1.0.1 is outside source.semver_constraint ">= 1.0.2"`)
		})
	})

	Describe("the source file", func() {
		It("reads YAML or JSON, with ((vars)) from --var and TC_VAR_ environment variables", func() {
			yml := cliTextFile("source.yml", `# the resource's source: block
bucket: ((bucket))
endpoint: ((s3.endpoint))
use_path_style: ((path_style))
region_name: us-east-1
access_key_id: ((key_id))
secret_access_key: ((secret))
`)
			env := map[string]string{"TC_VAR_path_style": "true", "TC_VAR_key_id": accessKeyID, "TC_VAR_secret": cfg.SecretKey}
			sess := runCandidates(env, "status", "-f", yml, "--var", "bucket="+bucket, "--var", "s3.endpoint="+cfg.Endpoint)
			succeeded(sess)
			Expect(string(sess.Out.Contents())).To(ContainSubstring("4 candidates"))

			By("a var given with --var wins over the environment")
			env["TC_VAR_bucket"] = "no-such-bucket"
			sess = runCandidates(env, "status", "-f", yml, "--var", "bucket="+bucket, "--var", "s3.endpoint="+cfg.Endpoint)
			succeeded(sess)

			By("a var not given is an error naming it")
			delete(env, "TC_VAR_secret")
			sess = runCandidates(env, "status", "-f", yml, "--var", "bucket="+bucket, "--var", "s3.endpoint="+cfg.Endpoint)
			Expect(sess.ExitCode()).To(Equal(1))
			expectRefusal(sess, "source.secret_access_key: ((secret)) is not set: give --var secret=VALUE or set TC_VAR_secret")

			By("JSON, with source.environments equal to the stored policy")
			js := cliSourceFile(source(bucket, map[string]any{"environments": policy}), true)
			Expect(candidatesOK("history", "production", "-f", js)).To(ContainSubstring("1.0.0"))
		})

		It("decodes strictly and holds the source to the stored policy, in one line", func() {
			sess := runCandidates(nil, "status", "-f", cliSourceFile(source(bucket, map[string]any{"environments": nil, "buckt": "x"}), false))
			Expect(sess.ExitCode()).To(Equal(1))
			expectRefusal(sess, `unknown key "buckt"`)

			weaker := redisPolicy() // production without the soak
			sess = runCandidates(nil, "status", "-f", cliSourceFile(source(bucket, map[string]any{"environments": weaker}), false))
			Expect(sess.ExitCode()).To(Equal(1))
			expectRefusal(sess, "source.environments differs from the policy stored for this prefix (policy 1)", "source.environments.production.soak")

			sess = runCandidates(nil, "status", "-f", cliTextFile("source.yml", "bucket: [unclosed\n"))
			Expect(sess.ExitCode()).To(Equal(1))
			expectRefusal(sess, "not a YAML or JSON document")

			sess = runCandidates(nil, "status", "-f", filepath.Join(GinkgoT().TempDir(), "missing.yml"))
			Expect(sess.ExitCode()).To(Equal(1))
			expectRefusal(sess, "reading the source file")
		})

		It("uses the AWS default credential chain when the source has no keys, and never prints a secret", func() {
			keyless := cliSourceFile(source(bucket, map[string]any{"environments": nil, "access_key_id": nil, "secret_access_key": nil}), false)
			env := map[string]string{"AWS_ACCESS_KEY_ID": accessKeyID, "AWS_SECRET_ACCESS_KEY": cfg.SecretKey, "AWS_EC2_METADATA_DISABLED": "true"}
			sess := runCandidates(env, "status", "-f", keyless)
			succeeded(sess)
			Expect(string(sess.Out.Contents())).To(ContainSubstring("4 candidates"))

			By("a wrong secret given as a var: refused by the store, and never printed")
			wrong := "wrong-secret-" + randomHex(8)
			yml := cliTextFile("source.yml", "bucket: "+bucket+"\nendpoint: "+cfg.Endpoint+"\nuse_path_style: true\naccess_key_id: "+accessKeyID+"\nsecret_access_key: ((secret))\n")
			sess = runCandidates(nil, "status", "-f", yml, "--var", "secret="+wrong)
			Expect(sess.ExitCode()).To(Equal(1))
			expectRefusal(sess)
			Expect(string(sess.Out.Contents()) + string(sess.Err.Contents())).NotTo(ContainSubstring(wrong))

			By("a secret in a source the strict decoding refuses is not printed either")
			sess = runCandidates(nil, "status", "-f", cliTextFile("source.yml", "bucket: "+bucket+"\nendpoint: \"not a url "+wrong+"\"\nsecret_access_key: "+wrong+"\naccess_key_id: x\n"))
			Expect(sess.ExitCode()).To(Equal(1))
			expectRefusal(sess, "source.endpoint")
			Expect(string(sess.Err.Contents())).NotTo(ContainSubstring(wrong))
		})
	})
})

var _ = Describe("candidates: edges of the status view", func() {
	It("shows an empty prefix as empty, with the source's environments", func() {
		bucket := newBucket()
		file := cliSourceFile(source(bucket, nil), false)
		out := candidatesOK("status", "-f", file)
		Expect(out).To(ContainSubstring("(policy 0)"))
		Expect(out).To(ContainSubstring("no candidates yet"))
		Expect(cliGridRow(out, "live now")).To(Equal([]string{"live now", "-", "-", "-", "-", "-"}))
		out = candidatesOK("history", "production", "-f", file)
		Expect(out).To(HavePrefix("no deployments of production yet"))
		sess := runCandidates(nil, "explain", "0.1.0", "dev1", "-f", file)
		expectRefusal(sess, "candidate 0.1.0 does not exist")
	})

	It("skips a pass record it cannot read, with one warning naming its key", func() {
		bucket := newBucket()
		src := source(bucket, nil)
		publish(src, redisTemplates("unreadable"), "1.0.0")
		mustPass(src, "1.0.0", "dev1")
		bad := "passes/dev1/" + versionKey("1.0.0") + "/" + time.Now().UTC().Format(passKeyTime) + "_0bad0bad.json"
		putObject(bucket, bad, []byte("not json"))

		file := cliSourceFile(source(bucket, map[string]any{"environments": nil}), false)
		sess := runCandidates(nil, "status", "-f", file)
		succeeded(sess)
		Expect(strings.TrimSpace(string(sess.Err.Contents()))).To(MatchRegexp(`^warning: skipping the unreadable pass record ` + regexp.QuoteMeta(bad) + `: [^\n]*$`))
		Expect(string(sess.Out.Contents())).To(ContainSubstring("(its record is unreadable)"))

		var r cliStatusJSON
		candidatesJSON(&r, "status", "-f", file)
		passes := r.Candidates[0].Environments["dev1"].Passes
		Expect(passes).To(HaveLen(2))
		Expect([]bool{passes[0].Unreadable, passes[1].Unreadable}).To(ConsistOf(false, true))
	})
})

var _ = Describe("candidates: the status view of the tested upgrade path", func() {
	It("says why production refuses an upgrade staging did not test, and shows a reset as admitted and marked", func() {
		bucket := newBucket()
		src := source(bucket, map[string]any{"environments": upgradePolicy()})
		for _, v := range []string{"0.1.0", "0.1.1", "0.1.2"} {
			publish(src, redisTemplates("upgrade-"+v), v)
			mustPass(src, v, "dev1")
		}
		for _, step := range [][]string{
			{"0.1.0", "staging"}, {"0.1.0", "staging-tests"}, {"0.1.0", "production"},
			{"0.1.1", "staging"}, {"0.1.1", "staging-tests"},
			{"0.1.2", "staging"}, {"0.1.2", "staging-tests"},
		} {
			mustPass(src, step[0], step[1])
		}
		file := cliSourceFile(source(bucket, map[string]any{"environments": nil}), false)
		why := "staging tested 0.1.2 as an upgrade from 0.1.1, but production runs 0.1.0: reset staging to 0.1.0 and deploy 0.1.2 again"

		out := candidatesOK("status", "-f", file)
		Expect(cliGridRow(out, "CANDIDATE")).To(Equal([]string{"CANDIDATE", "dev1", "staging", "staging-tests", "production"}))
		Expect(cliGridRow(out, "0.1.2")[4]).To(Equal("upgrade untested"))
		Expect(cliGridRow(out, "0.1.0")[2]).To(Equal("passed"), "0.1.0 is not live in staging any more")
		Expect(out).To(ContainSubstring("not admitted: candidate 0.1.2 is not admitted to production: " + why))

		var r cliStatusJSON
		candidatesJSON(&r, "status", "-f", file)
		Expect(r.Environments[3].Rule).To(HaveKeyWithValue("upgrade_tested_in", "staging"))
		Expect(r.Candidates[0].Environments["production"].Refusal).To(HaveSuffix(why))
		Expect(r.Candidates[2].Environments["staging"].Eligible).To(BeTrue(), "a reset of staging to what production runs is admitted")

		out = candidatesOK("explain", "0.1.2", "production", "-f", file)
		Expect(out).To(MatchRegexp(`(?m)^  NOT MET +tested in staging as the upgrade from 0\.1\.0, what production runs now: ` + regexp.QuoteMeta(why) + `$`))
		Expect(out).To(ContainSubstring("refused: candidate 0.1.2 is not admitted to production: " + why))

		out = candidatesOK("explain", "0.1.0", "staging", "-f", file)
		Expect(out).To(HavePrefix("candidate 0.1.0 for staging: ADMITTED now"))
		Expect(out).To(MatchRegexp(`(?m)^  met +a reset: 0\.1\.0 is what production runs now, so a pass of staging needs no other requirement$`))

		By("the reset recorded through out shows as one in history and status")
		mustPass(src, "0.1.0", "staging")
		var h cliHistoryJSON
		candidatesJSON(&h, "history", "staging", "-f", file)
		last := h.Deployments[len(h.Deployments)-1]
		Expect(last.Version).To(Equal("0.1.0"))
		Expect(last.Reset).To(BeTrue())
		Expect(last.Live).To(BeTrue())
		Expect(cliGridRow(candidatesOK("status", "-f", file), "0.1.0")[2]).To(Equal("passed reset LIVE"))
	})
})
