package policy

import (
	"fmt"
	"slices"
	"strings"
)

// MaxNameLength bounds an environment name: it is a segment of store keys,
// and keys must stay within the store's limits for any number of
// environments (docs/store.md, "The gates").
const MaxNameLength = 63

// checkName refuses an environment name that is too long.
func checkName(env string) error {
	if len(env) > MaxNameLength {
		return fmt.Errorf("source.environments: %q is longer than %d characters (%d)", env, MaxNameLength, len(env))
	}
	return nil
}

// cycle returns a cycle of requirements (requires_any and requires_all
// alike), as the environments along it with the first repeated at the end,
// or nil when there is none. The search goes in name order, so the cycle
// reported is always the same one.
func (p Policy) cycle() []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := make(map[string]int, len(p))
	var path []string
	var visit func(env string) []string
	visit = func(env string) []string {
		state[env] = onPath
		path = append(path, env)
		for _, next := range p.Upstream(env) {
			switch state[next] {
			case onPath:
				start := slices.Index(path, next)
				return append(slices.Clone(path[start:]), next)
			case unseen:
				if _, declared := p[next]; !declared {
					continue // reported by Validate as undeclared
				}
				if c := visit(next); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[env] = done
		return nil
	}
	for _, env := range p.Names() {
		if state[env] == unseen {
			if c := visit(env); c != nil {
				return c
			}
		}
	}
	return nil
}

// checkCycles refuses requirements that form a cycle: no candidate could
// ever pass any environment on it, and a gate that can never open hides a
// mistake in the policy.
func (p Policy) checkCycles() error {
	if c := p.cycle(); c != nil {
		return fmt.Errorf("source.environments: requirements form a cycle: %s", strings.Join(c, " -> "))
	}
	return nil
}
