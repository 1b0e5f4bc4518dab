package store

import (
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/mod/semver"
)

// randomVersion draws versions that crowd the places where text order and
// semver order part: numbers of different lengths, pre-releases against
// their release, numeric against alphanumeric identifiers, hyphens, and
// identifier lists that are prefixes of one another.
func randomVersion(r *rand.Rand) string {
	num := func() string {
		switch r.IntN(4) {
		case 0:
			return strconv.Itoa(r.IntN(3))
		case 1:
			return strconv.Itoa(r.IntN(12))
		case 2:
			return strconv.Itoa(r.IntN(1000))
		}
		return strconv.FormatInt(r.Int64N(1<<62), 10)
	}
	v := num() + "." + num() + "." + num()
	if r.IntN(3) == 0 {
		return v
	}
	words := []string{"rc", "beta", "alpha", "a", "a-b", "-", "RC", "rc1", "1a", "z", "0x"}
	ids := make([]string, 1+r.IntN(4))
	for i := range ids {
		if r.IntN(2) == 0 {
			ids[i] = num()
		} else {
			ids[i] = words[r.IntN(len(words))]
		}
	}
	return v + "-" + strings.Join(ids, ".")
}

var _ = Describe("version keys", func() {
	It("sort exactly as semver orders versions, pre-releases included (5,000 random pairs and a sort of 2,000)", func() {
		r := rand.New(rand.NewPCG(1, 2))
		sign := func(n int) int { return min(max(n, -1), 1) }
		for i := 0; i < 5000; i++ {
			a, b := randomVersion(r), randomVersion(r)
			ka, okA := VersionKey(a)
			kb, okB := VersionKey(b)
			Expect(okA && okB).To(BeTrue(), "%s, %s", a, b)
			Expect(sign(strings.Compare(ka, kb))).To(Equal(semver.Compare("v"+a, "v"+b)), "%s (%s) vs %s (%s)", a, ka, b, kb)
			Expect(sign(strings.Compare(descendingKey(ka), descendingKey(kb)))).To(Equal(-semver.Compare("v"+a, "v"+b)), "descending: %s vs %s", a, b)
		}
		versions := make([]string, 2000)
		keys := make([]string, len(versions))
		for i := range versions {
			versions[i] = randomVersion(r)
			keys[i], _ = VersionKey(versions[i])
		}
		sort.Slice(versions, func(i, j int) bool { return semver.Compare("v"+versions[i], "v"+versions[j]) < 0 })
		sort.Strings(keys)
		for i, k := range keys {
			v, err := ParseVersionKey(k)
			Expect(err).NotTo(HaveOccurred())
			Expect(semver.Compare("v"+v, "v"+versions[i])).To(Equal(0), "position %d", i)
		}
	})

	It("decode to the version they encode, and start a listing at their own key", func() {
		r := rand.New(rand.NewPCG(3, 4))
		for i := 0; i < 2000; i++ {
			v := randomVersion(r)
			k, ok := VersionKey(v)
			Expect(ok).To(BeTrue())
			Expect(ParseVersionKey(k)).To(Equal(v))
			Expect(descendingKey(descendingKey(k))).To(Equal(k))
			w := randomVersion(r)
			kw, _ := VersionKey(w)
			// Listing from startAt(k) holds w exactly when w >= v.
			Expect(kw > startAt(k)).To(Equal(semver.Compare("v"+w, "v"+v) >= 0), "%s from %s", w, v)
		}
	})

	DescribeTable("are refused for what is not a strict semantic version",
		func(v string) {
			_, ok := VersionKey(v)
			Expect(ok).To(BeFalse())
		},
		Entry("two numbers", "1.2"),
		Entry("leading zero", "1.02.3"),
		Entry("empty identifier", "1.2.3-rc..1"),
		Entry("build metadata", "1.2.3+b"),
		Entry("a twenty-digit number", "1.2.12345678901234567890"),
		Entry("an underscore", "1.2.3-rc_1"),
		Entry("empty", ""),
	)

	DescribeTable("decoding refuses what no version encodes to",
		func(k string) {
			_, err := ParseVersionKey(k)
			Expect(err).To(HaveOccurred())
		},
		Entry("text", "banana"),
		Entry("a numeric identifier written as text", "a1a2a3-1123!."),
		Entry("no end", "a1a2a3-1rc!"),
		Entry("a leading zero", "b01a2a3~"),
	)
})

// streamOf is a stream already holding items, for specs without a store.
func streamOf[T any](items ...T) *Stream[T] {
	pages := make(chan []T, 1)
	pages <- items
	close(pages)
	return &Stream[T]{pages: pages, cancel: func() {}}
}

var _ = Describe("a candidates listing", func() {
	vk, _ := VersionKey("1.0.0")
	other, _ := VersionKey("1.0.1")
	DescribeTable("marks a revocation whichever side of its commit record it sorts",
		func(seq int) {
			var keys []listedKey
			for _, name := range []string{commitKey(vk, seq, "")[len(candidatesDir)+1:], revocationKey(vk)[len(candidatesDir)+1:], commitKey(other, seq, "")[len(candidatesDir)+1:]} {
				if c, ok := parseCommitName(name); ok {
					keys = append(keys, listedKey{Candidate: c})
				} else if v, ok := parseRevocationName(name); ok {
					keys = append(keys, listedKey{Candidate: Candidate{Version: v}, revocation: true})
				}
			}
			sort.Slice(keys, func(i, j int) bool { return keyName(keys[i]) < keyName(keys[j]) })
			cs := &CandidateStream{keys: streamOf(keys...)}
			first, ok := cs.Next()
			Expect(ok).To(BeTrue())
			Expect(first.Version).To(Equal("1.0.0"))
			Expect(first.Revoked).To(BeTrue())
			second, ok := cs.Next()
			Expect(ok).To(BeTrue())
			Expect(second.Version).To(Equal("1.0.1"))
			Expect(second.Revoked).To(BeFalse())
			_, ok = cs.Next()
			Expect(ok).To(BeFalse())
		},
		Entry("policy 1: the revocation after", 1),
		Entry("policy 10^18: the revocation before", 1_000_000_000_000_000_000),
	)
})

// keyName is the name a listed key had under candidates/.
func keyName(k listedKey) string {
	if k.revocation {
		vk, _ := VersionKey(k.Version)
		return revocationKey(vk)[len(candidatesDir)+1:]
	}
	return commitKey(k.VersionKey, k.PolicySeq, k.NonFinalMask)[len(candidatesDir)+1:]
}
