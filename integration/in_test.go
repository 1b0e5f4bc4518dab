package integration_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("in", func() {
	var (
		bucket    string
		src       map[string]any
		files     map[string]string
		published Response
		digest    string
	)

	BeforeEach(func() {
		bucket = newBucket()
		src = source(bucket, nil)
		files = redisTemplates("in")
		published = publish(src, files, "1.0.0")
		var ok bool
		digest, ok = published.Meta("sha256")
		Expect(ok).To(BeTrue())
	})

	entries := func(dir string) []string {
		GinkgoHelper()
		des, err := os.ReadDir(dir)
		Expect(err).NotTo(HaveOccurred())
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		return names
	}

	It("writes candidate.tgz, version, sha256, passed.json and the unpacked templates", func() {
		dest := filepath.Join(GinkgoT().TempDir(), "get")
		resp, sess := in(dest, map[string]any{"source": src, "version": ver("1.0.0")})
		succeeded(sess)

		Expect(resp.Version).To(Equal(ver("1.0.0")))
		meta, ok := resp.Meta("sha256")
		Expect(ok).To(BeTrue(), "in's metadata should have a sha256 entry")
		Expect(meta).To(Equal(digest))

		Expect(readTrimmed(filepath.Join(dest, "version"))).To(Equal("1.0.0"))
		Expect(readTrimmed(filepath.Join(dest, "sha256"))).To(Equal(digest))
		Expect(sha256File(filepath.Join(dest, "candidate.tgz"))).To(Equal(digest),
			"the sha256 file must be the digest of candidate.tgz")

		raw := readTrimmed(filepath.Join(dest, "passed.json"))
		Expect(raw).To(HavePrefix("["), "passed.json is an array, even when empty")
		Expect(raw).To(MatchJSON(`[]`))

		for name, content := range files {
			got, err := os.ReadFile(filepath.Join(dest, "templates", filepath.FromSlash(name)))
			Expect(err).NotTo(HaveOccurred(), "templates/%s", name)
			Expect(string(got)).To(Equal(content), "templates/%s", name)
		}
	})

	It("keeps only candidate.tgz and the metadata with unpack: false", func() {
		dest := filepath.Join(GinkgoT().TempDir(), "get")
		_, sess := in(dest, map[string]any{"source": src, "version": ver("1.0.0"), "params": map[string]any{"unpack": false}})
		succeeded(sess)
		Expect(entries(dest)).To(ConsistOf("candidate.tgz", "version", "sha256", "passed.json"))
		Expect(sha256File(filepath.Join(dest, "candidate.tgz"))).To(Equal(digest))
	})

	It("writes only version, sha256 and passed.json with skip_download: true", func() {
		dest := filepath.Join(GinkgoT().TempDir(), "get")
		resp, sess := in(dest, map[string]any{"source": src, "version": ver("1.0.0"), "params": map[string]any{"skip_download": true}})
		succeeded(sess)
		Expect(resp.Version).To(Equal(ver("1.0.0")))
		Expect(entries(dest)).To(ConsistOf("version", "sha256", "passed.json"))
		Expect(readTrimmed(filepath.Join(dest, "sha256"))).To(Equal(digest))
		Expect(readTrimmed(filepath.Join(dest, "version"))).To(Equal("1.0.0"))
	})

	It("fetches exactly the version asked for", func() {
		other := publish(src, redisTemplates("other"), "1.0.1")
		otherDigest, _ := other.Meta("sha256")

		dest := filepath.Join(GinkgoT().TempDir(), "get")
		_, sess := in(dest, map[string]any{"source": src, "version": ver("1.0.0")})
		succeeded(sess)
		Expect(readTrimmed(filepath.Join(dest, "sha256"))).To(Equal(digest))
		Expect(digest).NotTo(Equal(otherDigest))
	})

	It("fails for a version that does not exist", func() {
		dest := filepath.Join(GinkgoT().TempDir(), "get")
		_, sess := in(dest, map[string]any{"source": src, "version": ver("7.7.7")})
		expectRefusal(sess, "7.7.7")
	})

	Describe("a stored tarball changed after publishing", func() {
		altered := func([]byte) []byte {
			// Only the digest can tell this one apart.
			altered := redisTemplates("in")
			altered["manifest.yml"] += "# evil\n"
			p := filepath.Join(GinkgoT().TempDir(), "t.tgz")
			makeTgz(p, altered, false)
			b, err := os.ReadFile(p)
			Expect(err).NotTo(HaveOccurred())
			return b
		}
		truncated := func(stored []byte) []byte { return stored[:len(stored)/2] }
		flipped := func(stored []byte) []byte {
			b := bytes.Clone(stored)
			b[len(b)-10] ^= 0xff
			return b
		}

		// replaceBlob overwrites the candidate's blob through the S3 API (so
		// the server's own checksums match the new bytes) and returns the
		// directory to get into.
		replaceBlob := func(change func([]byte) []byte) string {
			GinkgoHelper()
			blobs := keysUnder(bucket, "blobs/")
			Expect(blobs).To(HaveLen(1))
			dest := filepath.Join(GinkgoT().TempDir(), "get")
			_, sess := in(dest, map[string]any{"source": src, "version": ver("1.0.0"), "params": map[string]any{"unpack": false}})
			succeeded(sess)
			stored, err := os.ReadFile(filepath.Join(dest, "candidate.tgz"))
			Expect(err).NotTo(HaveOccurred())
			putObject(bucket, blobs[0], change(stored))
			return filepath.Join(GinkgoT().TempDir(), "get")
		}

		DescribeTable("is refused, naming the digest mismatch, leaving no file that claims success",
			func(change func([]byte) []byte, params map[string]any) {
				dest := replaceBlob(change)
				_, sess := in(dest, map[string]any{"source": src, "version": ver("1.0.0"), "params": params})
				line := expectRefusal(sess, "1.0.0", "sha256 mismatch", digest)
				fmt.Fprintln(GinkgoWriter, line)
				expectNoSuccessFiles(dest)
			},
			Entry("altered (another valid .tgz), unpacked", altered, nil),
			Entry("altered (another valid .tgz), unpack: false", altered, map[string]any{"unpack": false}),
			Entry("truncated, unpack: false", truncated, map[string]any{"unpack": false}),
			Entry("one byte flipped, unpack: false", flipped, map[string]any{"unpack": false}),
			// A damaged blob shows first as a broken archive while
			// unpacking; the digest, finished anyway, names the problem.
			Entry("truncated, unpacked", truncated, nil),
			Entry("one byte flipped, unpacked", flipped, nil),
		)

		DescribeTable("is refused when unpacked, whatever the reason given, leaving no file that claims success",
			func(change func([]byte) []byte) {
				dest := replaceBlob(change)
				_, sess := in(dest, map[string]any{"source": src, "version": ver("1.0.0")})
				line := expectRefusal(sess, "1.0.0")
				Expect(line).To(MatchRegexp(`(?i)sha256|digest|checksum|truncated|gzip`))
				expectNoSuccessFiles(dest)
			},
			Entry("truncated", truncated),
			Entry("one byte flipped", flipped),
		)

		It("is refused when truncated in the store, naming the checksum mismatch, leaving no file that claims success", func() {
			blobs := keysUnder(bucket, "blobs/")
			Expect(blobs).To(HaveLen(1))
			truncateStoredObject(bucket, blobs[0])

			for _, params := range []map[string]any{nil, {"unpack": false}} {
				dest := filepath.Join(GinkgoT().TempDir(), "get")
				_, sess := in(dest, map[string]any{"source": src, "version": ver("1.0.0"), "params": params})
				line := expectRefusal(sess, "1.0.0")
				Expect(line).To(MatchRegexp(`(?i)(sha256|checksum).*(mismatch|did not match)`))
				expectNoSuccessFiles(dest)
			}
		})
	})

	It("shows version, sha256, size, created at/by and the passed environments in the UI metadata", func() {
		dir := GinkgoT().TempDir()
		writeFiles(filepath.Join(dir, "templates"), redisTemplates("ui"))
		_, sess := outEnv(dir, map[string]any{"source": src, "params": map[string]any{"directory": "templates", "version": "2.0.0"}},
			map[string]string{
				"BUILD_ID": "77", "BUILD_NAME": "12", "BUILD_JOB_NAME": "publish-templates",
				"BUILD_PIPELINE_NAME": "redis", "BUILD_TEAM_NAME": "main", "ATC_EXTERNAL_URL": "https://ci.example.com",
			})
		succeeded(sess)
		gated := source(bucket, map[string]any{"environments": redisPolicy()})
		mustPass(gated, "2.0.0", "dev1")
		mustPass(gated, "2.0.0", "dev2")

		_, resp := get(src, ver("2.0.0"), nil)
		names := map[string]string{}
		for _, m := range resp.Metadata {
			names[m.Name] = m.Value
		}
		Expect(names).To(HaveKeyWithValue("version", "2.0.0"))
		Expect(names).To(HaveKey("sha256"))
		Expect(names).To(HaveKey("size"))
		Expect(names).To(HaveKey(MatchRegexp(`(?i)created.*at|^created$`)))
		Expect(names).To(ContainElement(ContainSubstring("publish-templates")), "created by the publishing build")
		Expect(names).To(ContainElement(And(ContainSubstring("dev1"), ContainSubstring("dev2"))), "the passed environments")
	})
})
