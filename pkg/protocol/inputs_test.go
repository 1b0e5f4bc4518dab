package protocol_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
)

var _ = Describe("source.prefix", func() {
	decode := func(prefix string) (protocol.Source, error) {
		req, err := protocol.DecodeCheck(strings.NewReader(`{"source":{"bucket":"b","prefix":` + quote(prefix) + `}}`))
		return req.Source, err
	}

	DescribeTable("in canonical form is accepted, with one trailing slash",
		func(prefix, want string) {
			src, err := decode(prefix)
			Expect(err).NotTo(HaveOccurred())
			Expect(src.Prefix).To(Equal(want))
		},
		Entry("none", "", ""),
		Entry("a name", "redis", "redis/"),
		Entry("a name and a slash", "redis/", "redis/"),
		Entry("nested", "team-a/redis", "team-a/redis/"),
		Entry("dots inside a segment", "a.b/..c/d..", "a.b/..c/d../"),
	)

	DescribeTable("that is not canonical is refused, naming it",
		func(prefix, why string) {
			_, err := decode(prefix)
			Expect(err).To(MatchError(And(
				HavePrefix(fmt.Sprintf("source.prefix: %q is not a canonical key prefix: ", prefix)),
				ContainSubstring(why))))
		},
		Entry("the root", "/", `it must not start with "/"`),
		Entry("a leading slash", "/redis", `it must not start with "/"`),
		Entry("an empty segment", "a//b", `an empty segment`),
		Entry("two trailing slashes", "redis//", `an empty segment`),
		Entry("a dot-dot segment", "x/../y", `a ".." segment`),
		Entry("a leading dot segment", "./z", `a "." segment`),
		Entry("a dot alone", ".", `a "." segment`),
		Entry("a dot-dot alone", "..", `a ".." segment`),
		Entry("a trailing dot-dot", "redis/..", `a ".." segment`),
		Entry("a backslash", `a\b`, "backslash"),
		Entry("a newline", "a\nb", "control character"),
	)
})

var _ = Describe("params.version given empty", func() {
	decode := func(params string) error {
		_, err := protocol.DecodeOut(strings.NewReader(`{"source":{"bucket":"b"},"params":` + params + `}`))
		return err
	}

	It("is refused when explicitly empty, since leaving it out means the next patch", func() {
		Expect(decode(`{"directory":"t","version":""}`)).To(MatchError(
			`params.version: given but empty (""): give a version such as 1.4.2, or leave version out to publish the next patch`))
	})

	DescribeTable("is refused however the emptiness is written",
		func(params, want string) {
			Expect(decode(params)).To(MatchError(ContainSubstring(want)))
		},
		Entry("null", `{"directory":"t","version":null}`, "params.version: given but empty (null)"),
		Entry("an empty version_file", `{"directory":"t","version_file":""}`, `params.version_file: given but empty ("")`),
		Entry("a null version_file", `{"tarball":"*.tgz","version_file":null}`, "params.version_file: given but empty (null)"),
	)

	It("is not needed: leaving version out is still fine", func() {
		Expect(decode(`{"directory":"t"}`)).To(Succeed())
	})
})

var _ = Describe("params.note", func() {
	pass := func(note string) error {
		_, err := protocol.DecodeOut(strings.NewReader(`{"source":{"bucket":"b",` + envs + `},"params":{"candidate":"c","environment":"dev1","note":` + quote(note) + `}}`))
		return err
	}

	It("is accepted up to 4096 bytes as stored", func() {
		Expect(pass(strings.Repeat("n", protocol.MaxNoteBytes))).To(Succeed())
		Expect(pass(strings.Repeat("<", protocol.MaxNoteBytes/6))).To(Succeed(), "682 '<' escape to 4092 bytes")
	})

	DescribeTable("is refused past 4096 bytes, measured as stored (JSON-escaped), with one line",
		func(note, want string) {
			err := pass(note)
			Expect(err).To(MatchError(ContainSubstring(want)))
			Expect(err.Error()).NotTo(ContainSubstring("\n"))
		},
		Entry("one byte over", strings.Repeat("n", protocol.MaxNoteBytes+1), "params.note: 4097 bytes, over the 4096-byte limit: keep it short"),
		Entry("1.1 MB", strings.Repeat("n", 1_100_000), "params.note: 1100000 bytes, over the 4096-byte limit: keep it short"),
		Entry("180,000 '<'", strings.Repeat("<", 180_000), "params.note: 180000 bytes, over the 4096-byte limit: keep it short"),
		Entry("700 '<' (700 bytes typed, 4200 stored)", strings.Repeat("<", 700), "params.note: 4200 bytes once escaped as JSON (700 given), over the 4096-byte limit: keep it short"),
		Entry("control characters", strings.Repeat("\x01", 1000), "params.note: 6000 bytes once escaped as JSON (1000 given)"),
	)
})

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

var _ = Describe("the other free text a put stores in a record", func() {
	DescribeTable("is bounded as params.note is",
		func(params, want string) {
			_, err := protocol.DecodeOut(strings.NewReader(`{"source":{"bucket":"b",` + envs + `},"params":` + params + `}`))
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("a revocation's reason", `{"revoke":"1.0.0","reason":`+quote(strings.Repeat("<", 1000))+`}`,
			"params.reason: 6000 bytes once escaped as JSON (1000 given), over the 4096-byte limit"),
		Entry("a break-glass override", `{"candidate":"c","environment":"dev1","override":`+quote(strings.Repeat("o", 5000))+`}`,
			"params.override: 5000 bytes, over the 4096-byte limit"),
	)
})
