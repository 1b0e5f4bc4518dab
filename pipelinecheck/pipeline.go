// Package pipelinecheck loads a Concourse pipeline strictly and reports what
// `fly validate-pipeline --strict` would report that matters for this
// project's pipeline.yml: unknown keys, names that are not identifiers,
// get/put steps naming undeclared resources, `passed:` jobs that do not exist
// or never touch the resource, undeclared resource types, unused resources —
// plus what fly cannot know: no unknown key in the source or params of this
// resource type (the lists of the team contract).
//
// It is a test helper: nothing the resource ships imports it.
package pipelinecheck

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
)

// CandidateImage is the image of this resource type.
const CandidateImage = "templates-candidate/templates-candidate-resource"

// The keys this resource accepts, read from the very types its strict
// decoder fills, so the two can never drift apart. Unknown keys are an error.
var (
	SourceKeys   = jsonKeys(reflect.TypeOf(protocol.Source{}))
	RuleKeys     = jsonKeys(reflect.TypeOf(policy.Rule{}))
	GetParamKeys = jsonKeys(reflect.TypeOf(protocol.InParams{}))
	PutParamKeys = jsonKeys(reflect.TypeOf(protocol.OutParams{}))
)

// jsonKeys lists the JSON names of a struct's fields.
func jsonKeys(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// CoreResourceTypes are the resource types a Concourse worker brings.
var CoreResourceTypes = []string{
	"bosh-io-release", "bosh-io-stemcell", "cf", "docker-image", "git",
	"github-release", "hg", "mock", "pool", "registry-image", "s3", "semver",
	"time", "tracker",
}

// Keys of Concourse's pipeline schema.
var (
	topKeys          = keys("jobs", "resources", "resource_types", "groups", "var_sources", "display")
	resourceKeys     = keys("name", "type", "source", "old_name", "icon", "version", "check_every", "check_timeout", "expose_build_created_by", "tags", "public", "webhook_token")
	resourceTypeKeys = keys("name", "type", "source", "privileged", "params", "check_every", "tags", "defaults")
	jobKeys          = keys("name", "old_name", "plan", "serial", "serial_groups", "build_log_retention", "build_logs_to_retain", "max_in_flight", "public", "disable_manual_trigger", "interruptible", "on_success", "on_failure", "on_error", "on_abort", "ensure")
	groupKeys        = keys("name", "jobs", "resources")
	hookKeys         = []string{"on_success", "on_failure", "on_error", "on_abort", "ensure"}
	modifierKeys     = keys("timeout", "attempts", "tags", "across", "on_success", "on_failure", "on_error", "on_abort", "ensure")
	actionKeys       = map[string]map[string]bool{
		"get":          keys("get", "resource", "passed", "params", "trigger", "version"),
		"put":          keys("put", "resource", "params", "get_params", "inputs", "no_get"),
		"task":         keys("task", "config", "file", "image", "privileged", "vars", "params", "input_mapping", "output_mapping", "container_limits", "hermetic"),
		"set_pipeline": keys("set_pipeline", "file", "vars", "var_files", "team", "instance_vars"),
		"load_var":     keys("load_var", "file", "format", "reveal"),
		"in_parallel":  keys("in_parallel"),
		"do":           keys("do"),
		"try":          keys("try"),
	}
	inParallelKeys  = keys("steps", "limit", "fail_fast")
	taskConfigKeys  = keys("platform", "image_resource", "inputs", "outputs", "caches", "params", "run", "rootfs_uri", "container_limits")
	imageSourceKeys = keys("type", "source", "params", "version")
	runKeys         = keys("path", "args", "dir", "user")
	taskIOKeys      = keys("name", "path", "optional")
)

// Concourse's rule for names (atc.ValidateIdentifier): a lowercase letter or
// a digit, then lowercase letters, digits, '-', '_' and '.'; not digits only.
var (
	identifier  = regexp.MustCompile(`^[\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d][\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d\-_.]*$`)
	justNumbers = regexp.MustCompile(`^\d+$`)
)

func validIdentifier(name string) bool {
	return identifier.MatchString(name) && !justNumbers.MatchString(name)
}

// Pipeline is a loaded pipeline.
type Pipeline struct {
	ResourceTypes []*ResourceType
	Resources     []*Resource
	Jobs          []*Job
	Groups        []*Group
}

// ResourceType is an entry of resource_types.
type ResourceType struct {
	Name, Type string
	Source     map[string]any
}

// Resource is an entry of resources.
type Resource struct {
	Name, Type string
	Source     map[string]any
}

// Group is an entry of groups.
type Group struct {
	Name      string
	Jobs      []string
	Resources []string
}

// Job is an entry of jobs.
type Job struct {
	Name         string
	SerialGroups []string
	Plan         []*Step
	Hooks        map[string]*Step
}

// Step is one step of a plan, with the steps inside it.
type Step struct {
	Where string // e.g. jobs.deploy-dev1.plan[1].put(redis-dev1)
	// Action: get, put, task, set_pipeline, load_var, in_parallel, do, try.
	Action string
	// Name: the get's or put's artifact name, the task's name.
	Name string
	// Resource the get or put uses (its `resource:`, else its name).
	Resource  string
	Passed    []string
	Trigger   bool
	Params    map[string]any
	GetParams map[string]any
	Version   any
	Config    map[string]any
	// Steps inside in_parallel, do, try.
	Steps []*Step
	Hooks map[string]*Step
}

// Walk calls fn for the step and every step inside it, hooks included, in plan
// order.
func (s *Step) Walk(fn func(*Step)) {
	fn(s)
	for _, c := range s.Steps {
		c.Walk(fn)
	}
	for _, k := range hookKeys {
		if h := s.Hooks[k]; h != nil {
			h.Walk(fn)
		}
	}
}

// Walk calls fn for every step of the job, hooks included.
func (j *Job) Walk(fn func(*Step)) {
	for _, s := range j.Plan {
		s.Walk(fn)
	}
	for _, k := range hookKeys {
		if h := j.Hooks[k]; h != nil {
			h.Walk(fn)
		}
	}
}

// Job returns the job named name, or nil.
func (p *Pipeline) Job(name string) *Job {
	for _, j := range p.Jobs {
		if j.Name == name {
			return j
		}
	}
	return nil
}

// Resource returns the resource named name, or nil.
func (p *Pipeline) Resource(name string) *Resource {
	for _, r := range p.Resources {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// IsCandidate tells whether a resource is of this resource type.
func (p *Pipeline) IsCandidate(r *Resource) bool {
	for _, t := range p.ResourceTypes {
		if t.Name == r.Type {
			repo, _ := t.Source["repository"].(string)
			return t.Type == "registry-image" && repo == CandidateImage
		}
	}
	return false
}

// Load parses a pipeline strictly: YAML errors, duplicate keys, non-string
// keys, unknown keys and values of the wrong kind are all errors, each named
// by its place in the pipeline.
func Load(data []byte) (*Pipeline, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("pipeline is not valid YAML: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		return nil, errors.New("pipeline has more than one YAML document")
	}
	l := &loader{}
	p := l.pipeline(doc)
	if len(l.problems) > 0 {
		return nil, errors.New(strings.Join(l.problems, "\n"))
	}
	return p, nil
}

type loader struct{ problems []string }

func (l *loader) problem(where, format string, args ...any) {
	l.problems = append(l.problems, where+": "+fmt.Sprintf(format, args...))
}

func (l *loader) object(where string, v any, allowed map[string]bool) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		if _, isMap := v.(map[any]any); isMap {
			l.problem(where, "keys must be strings")
		} else {
			l.problem(where, "must be a map, not %s", kind(v))
		}
		return nil
	}
	if allowed != nil {
		for _, k := range sortedKeys(m) {
			if !allowed[k] {
				l.problem(where, "unknown key %q", k)
			}
		}
	}
	return m
}

func (l *loader) list(where string, v any) []any {
	if v == nil {
		return nil
	}
	s, ok := v.([]any)
	if !ok {
		l.problem(where, "must be a list, not %s", kind(v))
	}
	return s
}

func (l *loader) str(where string, v any, required bool) string {
	if v == nil {
		if required {
			l.problem(where, "required")
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		l.problem(where, "must be a string, not %s", kind(v))
	}
	return s
}

func (l *loader) strings(where string, v any) []string {
	var out []string
	for i, item := range l.list(where, v) {
		out = append(out, l.str(fmt.Sprintf("%s[%d]", where, i), item, true))
	}
	return out
}

func (l *loader) boolean(where string, v any) bool {
	if v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		l.problem(where, "must be true or false, not %s", kind(v))
	}
	return b
}

func (l *loader) pipeline(doc any) *Pipeline {
	top := l.object("pipeline", doc, topKeys)
	p := &Pipeline{}
	if top == nil {
		return p
	}
	for i, v := range l.list("resource_types", top["resource_types"]) {
		where := fmt.Sprintf("resource_types[%d]", i)
		m := l.object(where, v, resourceTypeKeys)
		if m == nil {
			continue
		}
		rt := &ResourceType{Name: l.str(where+".name", m["name"], true), Type: l.str(where+".type", m["type"], true)}
		rt.Source = l.object(where+".source", orEmpty(m["source"]), nil)
		p.ResourceTypes = append(p.ResourceTypes, rt)
	}
	for i, v := range l.list("resources", top["resources"]) {
		where := fmt.Sprintf("resources[%d]", i)
		m := l.object(where, v, resourceKeys)
		if m == nil {
			continue
		}
		r := &Resource{Name: l.str(where+".name", m["name"], true), Type: l.str(where+".type", m["type"], true)}
		r.Source = l.object(where+".source", orEmpty(m["source"]), nil)
		p.Resources = append(p.Resources, r)
	}
	for i, v := range l.list("jobs", top["jobs"]) {
		where := fmt.Sprintf("jobs[%d]", i)
		m := l.object(where, v, jobKeys)
		if m == nil {
			continue
		}
		j := &Job{Name: l.str(where+".name", m["name"], true), Hooks: map[string]*Step{}}
		if j.Name != "" {
			where = "jobs." + j.Name
		}
		j.SerialGroups = l.strings(where+".serial_groups", m["serial_groups"])
		l.boolean(where+".serial", m["serial"])
		if m["plan"] == nil {
			l.problem(where+".plan", "required")
		}
		for k, s := range l.list(where+".plan", m["plan"]) {
			j.Plan = append(j.Plan, l.step(fmt.Sprintf("%s.plan[%d]", where, k), s))
		}
		for _, h := range hookKeys {
			if m[h] != nil {
				j.Hooks[h] = l.step(where+"."+h, m[h])
			}
		}
		p.Jobs = append(p.Jobs, j)
	}
	for i, v := range l.list("groups", top["groups"]) {
		where := fmt.Sprintf("groups[%d]", i)
		m := l.object(where, v, groupKeys)
		if m == nil {
			continue
		}
		p.Groups = append(p.Groups, &Group{
			Name:      l.str(where+".name", m["name"], true),
			Jobs:      l.strings(where+".jobs", m["jobs"]),
			Resources: l.strings(where+".resources", m["resources"]),
		})
	}
	return p
}

func (l *loader) step(where string, v any) *Step {
	s := &Step{Where: where, Hooks: map[string]*Step{}}
	m := l.object(where, v, nil)
	if m == nil {
		return s
	}
	var actions []string
	for k := range actionKeys {
		if _, ok := m[k]; ok {
			actions = append(actions, k)
		}
	}
	sort.Strings(actions)
	switch len(actions) {
	case 0:
		l.problem(where, "no action: give one of get, put, task, set_pipeline, load_var, in_parallel, do, try")
		return s
	case 1:
	default:
		l.problem(where, "several actions in one step: %s", strings.Join(actions, ", "))
		return s
	}
	s.Action = actions[0]
	for _, k := range sortedKeys(m) {
		if !actionKeys[s.Action][k] && !modifierKeys[k] {
			l.problem(where, "unknown key %q in a %s step", k, s.Action)
		}
	}
	switch s.Action {
	case "get", "put":
		s.Name = l.str(where+"."+s.Action, m[s.Action], true)
		s.Where = fmt.Sprintf("%s.%s(%s)", where, s.Action, s.Name)
		s.Resource = s.Name
		if m["resource"] != nil {
			s.Resource = l.str(s.Where+".resource", m["resource"], true)
		}
		s.Params = l.object(s.Where+".params", orEmpty(m["params"]), nil)
		if s.Action == "get" {
			s.Passed = l.strings(s.Where+".passed", m["passed"])
			s.Trigger = l.boolean(s.Where+".trigger", m["trigger"])
			s.Version = m["version"]
		} else {
			s.GetParams = l.object(s.Where+".get_params", orEmpty(m["get_params"]), nil)
			l.boolean(s.Where+".no_get", m["no_get"])
		}
	case "task":
		s.Name = l.str(where+".task", m["task"], true)
		s.Where = fmt.Sprintf("%s.task(%s)", where, s.Name)
		s.Params = l.object(s.Where+".params", orEmpty(m["params"]), nil)
		switch {
		case m["config"] != nil && m["file"] != nil:
			l.problem(s.Where, "give config or file, not both")
		case m["config"] != nil:
			s.Config = l.taskConfig(s.Where+".config", m["config"], m["image"] != nil)
		case m["file"] != nil:
			l.str(s.Where+".file", m["file"], true)
		default:
			l.problem(s.Where, "needs config or file")
		}
	case "set_pipeline", "load_var":
		s.Name = l.str(where+"."+s.Action, m[s.Action], true)
		s.Where = fmt.Sprintf("%s.%s(%s)", where, s.Action, s.Name)
		l.str(s.Where+".file", m["file"], true)
	case "in_parallel":
		steps := m["in_parallel"]
		if obj, ok := steps.(map[string]any); ok {
			l.object(where+".in_parallel", obj, inParallelKeys)
			steps = obj["steps"]
		}
		for i, c := range l.list(where+".in_parallel", steps) {
			s.Steps = append(s.Steps, l.step(fmt.Sprintf("%s.in_parallel[%d]", where, i), c))
		}
	case "do":
		for i, c := range l.list(where+".do", m["do"]) {
			s.Steps = append(s.Steps, l.step(fmt.Sprintf("%s.do[%d]", where, i), c))
		}
	case "try":
		s.Steps = []*Step{l.step(where+".try", m["try"])}
	}
	if m["timeout"] != nil {
		if d, ok := m["timeout"].(string); !ok {
			l.problem(s.Where+".timeout", "must be a duration string")
		} else if _, err := time.ParseDuration(d); err != nil {
			l.problem(s.Where+".timeout", "invalid duration %q", d)
		}
	}
	if m["attempts"] != nil {
		if n, ok := m["attempts"].(int); !ok || n <= 0 {
			l.problem(s.Where+".attempts", "must be greater than 0")
		}
	}
	for _, h := range hookKeys {
		if m[h] != nil {
			s.Hooks[h] = l.step(s.Where+"."+h, m[h])
		}
	}
	return s
}

func (l *loader) taskConfig(where string, v any, stepHasImage bool) map[string]any {
	c := l.object(where, v, taskConfigKeys)
	if c == nil {
		return nil
	}
	l.str(where+".platform", c["platform"], true)
	if c["image_resource"] != nil {
		img := l.object(where+".image_resource", c["image_resource"], imageSourceKeys)
		if img != nil {
			l.str(where+".image_resource.type", img["type"], true)
			l.object(where+".image_resource.source", orEmpty(img["source"]), nil)
		}
	} else if c["rootfs_uri"] == nil && !stepHasImage && c["platform"] == "linux" {
		l.problem(where, "a linux task needs image_resource (or the step's image)")
	}
	run := l.object(where+".run", orEmpty(c["run"]), runKeys)
	if run != nil {
		l.str(where+".run.path", run["path"], true)
	}
	for _, io := range []string{"inputs", "outputs", "caches"} {
		for i, item := range l.list(where+"."+io, c[io]) {
			at := fmt.Sprintf("%s.%s[%d]", where, io, i)
			if m := l.object(at, item, taskIOKeys); m != nil {
				l.str(at+".name", m["name"], io != "caches")
			}
		}
	}
	return c
}

// Problems reports what fly validate-pipeline --strict would, and the
// unknown keys of this resource type's source and params.
func (p *Pipeline) Problems() []string {
	var out []string
	add := func(where, format string, args ...any) {
		out = append(out, where+": "+fmt.Sprintf(format, args...))
	}

	names := func(kind string, list []string) map[string]bool {
		seen := map[string]bool{}
		for _, n := range list {
			if seen[n] {
				add(kind+"."+n, "declared more than once")
			}
			seen[n] = true
			if !validIdentifier(n) {
				add(kind+"."+n, "%q is not a valid identifier: start with a lowercase letter or a digit, then lowercase letters, digits, '-', '_' or '.'", n)
			}
		}
		return seen
	}
	var typeNames, resourceNames, jobNames, groupNames []string
	for _, t := range p.ResourceTypes {
		typeNames = append(typeNames, t.Name)
	}
	for _, r := range p.Resources {
		resourceNames = append(resourceNames, r.Name)
	}
	for _, j := range p.Jobs {
		jobNames = append(jobNames, j.Name)
	}
	for _, g := range p.Groups {
		groupNames = append(groupNames, g.Name)
	}
	types := names("resource_types", typeNames)
	resources := names("resources", resourceNames)
	jobs := names("jobs", jobNames)
	names("groups", groupNames)

	core := keys(CoreResourceTypes...)
	usedTypes := map[string]bool{}
	for _, t := range p.ResourceTypes {
		if t.Type == t.Name || (!core[t.Type] && !types[t.Type]) {
			add("resource_types."+t.Name, "type %q is neither a core resource type nor declared in resource_types", t.Type)
		}
		usedTypes[t.Type] = true
	}
	for _, r := range p.Resources {
		if !core[r.Type] && !types[r.Type] {
			add("resources."+r.Name, "type %q is neither a core resource type nor declared in resource_types", r.Type)
		}
		usedTypes[r.Type] = true
		if p.IsCandidate(r) {
			out = append(out, candidateSourceProblems("resources."+r.Name+".source", r.Source)...)
		}
	}
	for _, t := range p.ResourceTypes {
		if !usedTypes[t.Name] {
			add("resource_types."+t.Name, "not used by any resource")
		}
	}

	// Which resources each job touches (gets or puts), for passed:.
	touches := map[string]map[string]bool{}
	usedResources := map[string]bool{}
	for _, j := range p.Jobs {
		touches[j.Name] = map[string]bool{}
		j.Walk(func(s *Step) {
			if s.Action == "get" || s.Action == "put" {
				touches[j.Name][s.Resource] = true
				usedResources[s.Resource] = true
			}
		})
	}
	for _, j := range p.Jobs {
		gets := map[string]bool{}
		j.Walk(func(s *Step) {
			if s.Action == "get" {
				if gets[s.Name] {
					add(s.Where, "repeated name")
				}
				gets[s.Name] = true
			}
			if s.Name != "" && !validIdentifier(s.Name) && !strings.Contains(s.Name, "((") {
				add(s.Where, "step name %q is not a valid identifier", s.Name)
			}
			if s.Action != "get" && s.Action != "put" {
				return
			}
			r := p.Resource(s.Resource)
			if !resources[s.Resource] || r == nil {
				add(s.Where, "unknown resource %q", s.Resource)
				return
			}
			for _, job := range s.Passed {
				switch {
				case !jobs[job]:
					add(s.Where+".passed", "unknown job %q", job)
				case !touches[job][s.Resource]:
					add(s.Where+".passed", "job %q does not interact with resource %q", job, s.Resource)
				case job == j.Name:
					add(s.Where+".passed", "job %q lists itself", job)
				}
			}
			if !p.IsCandidate(r) {
				return
			}
			if s.Action == "get" {
				out = append(out, unknownKeys(s.Where+".params", s.Params, GetParamKeys)...)
			} else {
				out = append(out, unknownKeys(s.Where+".params", s.Params, PutParamKeys)...)
				out = append(out, unknownKeys(s.Where+".get_params", s.GetParams, GetParamKeys)...)
			}
		})
	}
	for _, r := range p.Resources {
		if !usedResources[r.Name] {
			add("resources."+r.Name, "not used by any job")
		}
	}

	inGroup := map[string]bool{}
	for _, g := range p.Groups {
		for _, r := range g.Resources {
			if !resources[r] {
				add("groups."+g.Name, "unknown resource %q", r)
			}
		}
		for _, j := range g.Jobs {
			if !jobs[j] {
				add("groups."+g.Name, "unknown job %q", j)
			}
			inGroup[j] = true
		}
	}
	if len(p.Groups) > 0 {
		for _, j := range p.Jobs {
			if !inGroup[j.Name] {
				add("jobs."+j.Name, "not in any group")
			}
		}
	}
	return out
}

func candidateSourceProblems(where string, source map[string]any) []string {
	out := unknownKeys(where, source, SourceKeys)
	envs, ok := source["environments"]
	if !ok {
		return out
	}
	rules, ok := envs.(map[string]any)
	if !ok {
		return append(out, where+".environments: must be a map of environment name to rule")
	}
	for _, env := range sortedKeys(rules) {
		rule := rules[env]
		if rule == nil {
			continue
		}
		m, ok := rule.(map[string]any)
		if !ok {
			out = append(out, fmt.Sprintf("%s.environments.%s: must be a map", where, env))
			continue
		}
		out = append(out, unknownKeys(where+".environments."+env, m, RuleKeys)...)
	}
	return out
}

func unknownKeys(where string, m map[string]any, allowed []string) []string {
	ok := keys(allowed...)
	var out []string
	for _, k := range sortedKeys(m) {
		if !ok[k] {
			out = append(out, fmt.Sprintf("%s: unknown key %q", where, k))
		}
	}
	return out
}

func keys(list ...string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, k := range list {
		m[k] = true
	}
	return m
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func orEmpty(v any) any {
	if v == nil {
		return map[string]any{}
	}
	return v
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}
