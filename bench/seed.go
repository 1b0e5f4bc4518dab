package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// Seeding writes store layout 2 (pkg/store/layout.go) as the resource writes
// it, with the store's own key helpers (store.VersionKey, store.ClaimKey,
// store.CommitKey) and policy digests (policy.Policy.Digest), so that the
// seeds read exactly like published candidates.

// keyTimeLayout is the fixed-width time of pass and deployment keys.
const keyTimeLayout = "20060102T150405.000000000Z"

// seqKey1 is the sortable form of policy number 1.
const seqKey1 = "a1"

// object is one object to seed.
type object struct {
	key  string // bucket-relative
	body []byte
}

// layoutObjects are layout.json and policy number 1.
func layoutObjects(prefix string, p policy.Policy, stored time.Time) []object {
	canon := p.Canonical()
	rec, _ := json.Marshal(store.PolicyRecord{
		Seq: 1, Digest: canon.Digest(), Environments: canon, Time: stored, Note: "seeded by bench",
	})
	return []object{
		{prefix + "layout.json", []byte(`{"layout":2,"note":"templates-candidate store layout"}`)},
		{prefix + "policies/" + seqKey1 + "_" + canon.Digest() + ".json", rec},
	}
}

// candidateSeed is one seeded candidate and the objects it is made of.
type candidateSeed struct {
	prefix  string
	version string
	vk      string // store.VersionKey(version)
	sha     string
	pol     policy.Policy
}

func newCandidateSeed(prefix, version string, pol policy.Policy) candidateSeed {
	vk, ok := store.VersionKey(version)
	if !ok {
		panic("not a semantic version: " + version)
	}
	sum := sha256.Sum256([]byte("candidate " + version))
	return candidateSeed{prefix: prefix, version: version, vk: vk, sha: hex.EncodeToString(sum[:]), pol: pol}
}

// claim is claims/<descending version key>.json: every release final.
func (c candidateSeed) claim() object {
	releases := map[string][]policy.Release{}
	for _, env := range c.pol.Names() {
		releases[env] = []policy.Release{{Name: "bench", Version: "1.0.0", Final: true}}
	}
	body, _ := json.Marshal(store.Claim{
		Version: c.version, SHA256: c.sha, Size: 4096, Blob: "blobs/" + randomHex(16) + ".tgz",
		CreatedBy: "main/bench/publish", PolicySeq: 1, PolicyDigest: c.pol.Digest(), Releases: releases,
	})
	return object{c.prefix + store.ClaimKey(c.version), body}
}

// commit is candidates/<version key>_a1: all releases final, so no mask.
func (c candidateSeed) commit() object {
	body := []byte(`{"version":"` + c.version + `","sha256":"` + c.sha + `"}`)
	return object{c.prefix + store.CommitKey(c.version, 1, ""), body}
}

// pass is the pass record passes/<env>/<version key>/<time>_<8 hex>.json and
// its entry deploys/<env>/<time>_<8 hex>_<version key>, whose body is the
// record's key (relative to the prefix).
func (c candidateSeed) pass(env string, t time.Time) (record, deploy object) {
	nonce := randomHex(4)
	stamp := t.UTC().Format(keyTimeLayout)
	rel := "passes/" + env + "/" + c.vk + "/" + stamp + "_" + nonce + ".json"
	body, _ := json.Marshal(store.PassRecord{
		Environment: env, Version: c.version, SHA256: c.sha, Time: t.UTC(),
		Build: store.Build{ID: "1", Name: "1", Job: "deploy-" + env, Pipeline: "bench", Team: "main"}, Policy: c.pol.Digest(),
	})
	return object{c.prefix + rel, body}, object{c.prefix + "deploys/" + env + "/" + stamp + "_" + nonce + "_" + c.vk, []byte(rel)}
}

// putAll writes every object gen emits with parallel PUTs and returns how
// many it wrote.
func (h *harness) putAll(ctx context.Context, bucket string, gen func(emit func(object) bool)) (int, error) {
	objects := make(chan object, 4096)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(objects)
		gen(func(o object) bool {
			select {
			case objects <- o:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	const workers = 64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	var count atomic.Int64
	for range workers {
		wg.Go(func() {
			for o := range objects {
				_, err := h.client.PutObject(ctx, &s3.PutObjectInput{
					Bucket:      aws.String(bucket),
					Key:         aws.String(o.key),
					Body:        bytes.NewReader(o.body),
					ContentType: aws.String("application/json"),
				})
				if err != nil {
					once.Do(func() {
						firstErr = fmt.Errorf("seeding %s: %w", o.key, err)
						cancel()
					})
					continue
				}
				count.Add(1)
			}
		})
	}
	wg.Wait()
	return int(count.Load()), firstErr
}
