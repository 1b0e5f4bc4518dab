package integration_test

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("live_in: deployment history", func() {
	var (
		bucket string
		plain  map[string]any // no live_in
		live   map[string]any // live_in: staging
	)

	BeforeEach(func() {
		bucket = newBucket()
		plain = source(bucket, map[string]any{"environments": redisPolicy()})
		live = source(bucket, map[string]any{"environments": redisPolicy(), "live_in": "staging"})
		publish(plain, redisTemplates("old"), "1.0.0")
		publish(plain, redisTemplates("new"), "1.0.1")
		mustPass(plain, "1.0.0", "dev1")
		mustPass(plain, "1.0.1", "dev1")
	})

	deploy := func(version string) map[string]string {
		GinkgoHelper()
		resp := mustPass(live, version, "staging")
		Expect(resp.Version).To(HaveLen(2), "a pass through a live_in source returns the deployment: %v", resp.Version)
		parseDeployed(resp.Version["deployed"])
		return resp.Version
	}

	It("is empty before anything was deployed there", func() {
		versions, sess := check(map[string]any{"source": live})
		succeeded(sess)
		Expect(versions).To(BeEmpty())
	})

	It("yields one version per deployment, in deployment order, so a rollback is the newest", func() {
		first := deploy("1.0.0")
		second := deploy("1.0.1")
		rollback := deploy("1.0.0")

		Expect(parseDeployed(second["deployed"])).To(BeTemporally(">", parseDeployed(first["deployed"])))
		Expect(parseDeployed(rollback["deployed"])).To(BeTemporally(">", parseDeployed(second["deployed"])))

		By("no version given: the latest deployment, i.e. the rollback")
		versions, sess := check(map[string]any{"source": live})
		succeeded(sess)
		Expect(versions).To(Equal([]map[string]string{rollback}))

		By("from the first deployment: the whole history")
		versions, sess = check(map[string]any{"source": live, "version": first})
		succeeded(sess)
		Expect(versions).To(Equal([]map[string]string{first, second, rollback}))

		By("from the second deployment")
		versions, sess = check(map[string]any{"source": live, "version": second})
		succeeded(sess)
		Expect(versions).To(Equal([]map[string]string{second, rollback}))

		By("from a deployment that never happened: the latest only")
		versions, sess = check(map[string]any{"source": live, "version": map[string]string{
			"version": "1.0.1", "deployed": "2001-01-01T00:00:00.000000001Z",
		}})
		succeeded(sess)
		Expect(versions).To(Equal([]map[string]string{rollback}))

		By("passes into other environments are not deployments to staging")
		mustPass(plain, "1.0.1", "staging-tests")
		versions, sess = check(map[string]any{"source": live})
		succeeded(sess)
		Expect(versions).To(Equal([]map[string]string{rollback}))
	})

	It("refuses a pass into another environment: its version is no deployment of staging", func() {
		deploy("1.0.0")
		dir, _ := get(live, ver("1.0.0"), map[string]any{"skip_download": true})
		before := bucketKeys(bucket)
		_, sess := pass(live, dir, "staging-tests")
		expectRefusal(sess, "live in staging", "passes of staging only")
		Expect(bucketKeys(bucket)).To(Equal(before))
	})

	It("orders deployments recorded within one second of the store's clock by when they were recorded", func() {
		var deployed []map[string]string
		for _, v := range []string{"1.0.0", "1.0.1", "1.0.0", "1.0.1", "1.0.0"} {
			deployed = append(deployed, deploy(v))
		}
		versions, sess := check(map[string]any{"source": live, "version": deployed[0]})
		succeeded(sess)
		Expect(versions).To(Equal(deployed))
	})

	It("lists deployments recorded through a source without live_in too", func() {
		resp := mustPass(plain, "1.0.1", "staging")
		Expect(resp.Version).To(Equal(ver("1.0.1")), "no deployed without live_in")

		versions, sess := check(map[string]any{"source": live})
		succeeded(sess)
		Expect(versionsOf(versions)).To(Equal([]string{"1.0.1"}))
		parseDeployed(versions[0]["deployed"])
	})

	It("lets in fetch a deployment version, echoing it", func() {
		d := deploy("1.0.1")
		dest := filepath.Join(GinkgoT().TempDir(), "get")
		resp, sess := in(dest, map[string]any{"source": live, "version": d})
		succeeded(sess)
		Expect(resp.Version).To(Equal(d))
		Expect(readTrimmed(filepath.Join(dest, "version"))).To(Equal("1.0.1"))
	})
})
