package protocol_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
)

const envs = `"environments":{"dev1":{},"dev2":{},"staging":{"requires_any":["dev1","dev2"],"soak":"90s"}}`

var _ = Describe("decoding a check request", func() {
	It("reads every source key and fills in the defaults", func() {
		req, err := protocol.DecodeCheck(strings.NewReader(`{"source":{"bucket":"b","prefix":"redis/","endpoint":"http://127.0.0.1:9000",
			"use_path_style":true,"access_key_id":"k","secret_access_key":"s","session_token":"t","aws_role_arn":"arn:aws:iam::1:role/r",
			"skip_ssl_verification":true,"ca_bundle":"PEM","server_side_encryption":"aws:kms","sse_kms_key_id":"key",
			"max_unpacked_bytes":1024,"max_entries":10,` + envs + `,"eligible_for":"staging"},"version":{"version":"1.0.0"}}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(req.Source.RegionName).To(Equal("us-east-1"))
		Expect(req.Source.MaxUnpackedBytes).To(Equal(int64(1024)))
		Expect(req.Source.Environments["staging"].RequiresAny).To(Equal([]string{"dev1", "dev2"}))
		Expect(time.Duration(req.Source.Environments["staging"].Soak)).To(Equal(90 * time.Second))
		Expect(req.Version).To(Equal(&protocol.Version{Version: "1.0.0"}))
	})

	It("defaults the unpacking bounds", func() {
		req, err := protocol.DecodeCheck(strings.NewReader(`{"source":{"bucket":"b"}}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(req.Source.MaxUnpackedBytes).To(Equal(int64(protocol.DefaultMaxUnpackedBytes)))
		Expect(req.Source.MaxEntries).To(Equal(protocol.DefaultMaxEntries))
		Expect(req.Version).To(BeNil())
		Expect(req.Source.Environments).To(Equal(policy.Policy(nil)))
	})

	DescribeTable("refuses a bad request with one line naming the problem",
		func(request, want string) {
			_, err := protocol.DecodeCheck(strings.NewReader(request))
			Expect(err).To(MatchError(ContainSubstring(want)))
			Expect(err.Error()).NotTo(ContainSubstring("\n"))
		},
		Entry("empty stdin", ``, "request is empty"),
		Entry("broken JSON", `{"source":`, "request is not valid JSON"),
		Entry("missing bucket", `{"source":{}}`, "source.bucket: required"),
		Entry("an unknown source key", `{"source":{"bucket":"b","buckt":"c"}}`, `source: unknown key "buckt"`),
		Entry("an unknown top-level key", `{"source":{"bucket":"b"},"extra":1}`, `request: unknown key "extra"`),
		Entry("an unknown rule key", `{"source":{"bucket":"b","environments":{"dev1":{"requires_one":["x"]}}}}`, `source.environments.dev1: unknown key "requires_one"`),
		Entry("a mistyped bucket", `{"source":{"bucket":3}}`, "source.bucket: must be a string, not a JSON number"),
		Entry("a mistyped flag", `{"source":{"bucket":"b","use_path_style":"yes"}}`, "source.use_path_style: must be true or false"),
		Entry("a mistyped list", `{"source":{"bucket":"b","environments":{"dev1":{},"s":{"requires_any":"dev1"}}}}`, "source.environments.s.requires_any: must be a list"),
		Entry("a bad soak", `{"source":{"bucket":"b","environments":{"s":{"soak":"soon"}}}}`, `source.environments.s.soak: "soon" is not a duration`),
		Entry("an undeclared requirement", `{"source":{"bucket":"b","environments":{"s":{"requires_all":["dev9"]}}}}`, `source.environments.s.requires_all: environment "dev9" is not declared`),
		Entry("eligible_for an undeclared environment", `{"source":{"bucket":"b",`+envs+`,"eligible_for":"qa"}}`, `source.eligible_for: environment "qa" is not declared`),
		Entry("live_in an undeclared environment", `{"source":{"bucket":"b","live_in":"production","environments":{"dev1":{}}}}`, `source.live_in: environment "production" is not declared`),
		Entry("both modes", `{"source":{"bucket":"b",`+envs+`,"eligible_for":"dev1","live_in":"dev2"}}`, "give at most one"),
		Entry("half the static keys", `{"source":{"bucket":"b","access_key_id":"k"}}`, "source.access_key_id and source.secret_access_key: give both or neither"),
		Entry("an endpoint that is no URL", `{"source":{"bucket":"b","endpoint":"localhost:9000"}}`, "source.endpoint"),
		Entry("an unknown encryption", `{"source":{"bucket":"b","server_side_encryption":"rot13"}}`, "source.server_side_encryption"),
		Entry("negative bounds", `{"source":{"bucket":"b","max_entries":-1}}`, "source.max_entries: must be positive"),
	)

	It("never repeats a secret in a type error", func() {
		_, err := protocol.DecodeCheck(strings.NewReader(`{"source":{"bucket":"b","access_key_id":"k","secret_access_key":["s3cr3t-value"]}}`))
		Expect(err).To(MatchError(ContainSubstring("source.secret_access_key: must be a string")))
		Expect(err.Error()).NotTo(ContainSubstring("s3cr3t-value"))
	})
})

var _ = Describe("decoding an out request", func() {
	DescribeTable("refuses params that do not make one operation",
		func(params, want string) {
			_, err := protocol.DecodeOut(strings.NewReader(`{"source":{"bucket":"b",` + envs + `},"params":` + params + `}`))
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("no params", `{}`, "give directory or tarball to publish, candidate and environment to record a pass, or update_policy: true"),
		Entry("an unknown param", `{"directory":"t","dirctory":"u"}`, `params: unknown key "dirctory"`),
		Entry("directory and tarball", `{"directory":"t","tarball":"*.tgz"}`, "params.directory and params.tarball: give only one"),
		Entry("version and version_file", `{"directory":"t","version":"1.0.0","version_file":"v"}`, "params.version and params.version_file"),
		Entry("a pass without candidate", `{"environment":"dev1"}`, "params.candidate: required"),
		Entry("a pass without environment", `{"candidate":"c"}`, "params.environment: required"),
		Entry("a pass to an undeclared environment", `{"candidate":"c","environment":"qa"}`, `params.environment: environment "qa" is not declared`),
		Entry("publish and pass at once", `{"directory":"t","environment":"dev1"}`, "separate puts"),
	)
})

var _ = Describe("decoding an in request", func() {
	It("requires a version", func() {
		_, err := protocol.DecodeIn(strings.NewReader(`{"source":{"bucket":"b"},"params":{}}`))
		Expect(err).To(MatchError("version.version: required"))
	})
	It("refuses to render an undeclared environment", func() {
		_, err := protocol.DecodeIn(strings.NewReader(`{"source":{"bucket":"b",` + envs + `},"version":{"version":"1.0.0"},"params":{"render":"prod"}}`))
		Expect(err).To(MatchError(ContainSubstring(`params.render: environment "prod" is not declared`)))
	})
})
