// Package render renders the BOSH manifest of one environment from a
// candidate's templates, exactly as `bosh int` would, and reads the releases
// (with their finality) out of a rendered manifest.
//
// A candidate's templates are laid out as
//
//	manifest.yml                    base manifest
//	ops/*.yml                       ops files for every environment, in name order
//	environments/<env>/ops/*.yml    ops files for one environment, in name order
//	environments/<env>/vars.yml     variables for one environment (optional)
//
// and Render(templates, env) equals
//
//	bosh int manifest.yml -o ops/… -o environments/<env>/ops/… -l environments/<env>/vars.yml
//
// byte for byte: it is the same template evaluation of the same bosh-cli
// packages (director/template and go-patch), built the way bosh-cli's
// interpolate command builds it. Variables not given stay ((placeholders)) for
// the director and CredHub.
package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	boshtpl "github.com/cloudfoundry/bosh-cli/v7/director/template"
	"github.com/cppforlife/go-patch/patch"
	"gopkg.in/yaml.v2"
)

// Names of the template layout.
const (
	ManifestFile    = "manifest.yml"
	OpsDir          = "ops"
	EnvironmentsDir = "environments"
	VarsFile        = "vars.yml"
	opsExt          = ".yml"
)

// Inputs are the files that render one environment, as slash-separated paths
// relative to the root of the templates, in the order bosh applies them.
type Inputs struct {
	Environment string
	Manifest    string
	// OpsFiles: ops/*.yml then environments/<env>/ops/*.yml, each in name order.
	OpsFiles []string
	// VarsFile is environments/<env>/vars.yml, or "" when there is none.
	VarsFile string
}

// BoshIntArgs are the arguments of the equivalent `bosh` command, relative to
// the root of the templates: int manifest.yml -o … -l ….
func (in Inputs) BoshIntArgs() []string {
	args := []string{"int", in.Manifest}
	for _, f := range in.OpsFiles {
		args = append(args, "-o", f)
	}
	if in.VarsFile != "" {
		args = append(args, "-l", in.VarsFile)
	}
	return args
}

// FindInputs lists the files that render env. An environment without a folder
// under environments/ renders from manifest.yml and ops/ alone.
func FindInputs(templates fs.FS, env string) (Inputs, error) {
	if err := checkEnvironmentName(env); err != nil {
		return Inputs{}, err
	}
	in := Inputs{Environment: env, Manifest: ManifestFile}
	if err := regularFile(templates, ManifestFile); err != nil {
		return Inputs{}, err
	}
	shared, err := opsFiles(templates, OpsDir)
	if err != nil {
		return Inputs{}, err
	}
	envDir := path.Join(EnvironmentsDir, env)
	own, err := opsFiles(templates, path.Join(envDir, OpsDir))
	if err != nil {
		return Inputs{}, err
	}
	in.OpsFiles = append(shared, own...)
	vars := path.Join(envDir, VarsFile)
	switch info, err := fs.Stat(templates, vars); {
	case errors.Is(err, fs.ErrNotExist):
		if alt := strings.TrimSuffix(vars, ".yml") + ".yaml"; exists(templates, alt) {
			return Inputs{}, fmt.Errorf("%s: variables are read from %s only; rename it", alt, vars)
		}
	case err != nil:
		return Inputs{}, fmt.Errorf("%s: %w", vars, err)
	case !info.Mode().IsRegular():
		return Inputs{}, fmt.Errorf("%s: not a regular file", vars)
	default:
		in.VarsFile = vars
	}
	return in, nil
}

// Render renders the manifest of env from a templates tree: manifest.yml, then
// ops/*.yml in name order, then environments/<env>/ops/*.yml in name order,
// then the variables of environments/<env>/vars.yml (optional). Variables not
// given stay ((placeholders)). The output is byte-identical to `bosh int` with
// the same files. Errors are one line and name the environment, the file and,
// for an ops file, the op (counted from 1) with its type and path.
func Render(templates fs.FS, env string) ([]byte, error) {
	out, err := render(templates, env)
	if err != nil {
		return nil, &Error{Environment: env, Err: err}
	}
	return out, nil
}

// Error is a failure to render an environment. Its message is one line,
// "rendering <env>: <problem>"; errors.As finds an *OpError inside when an op
// failed.
type Error struct {
	Environment string
	Err         error
}

func (e *Error) Error() string {
	return fmt.Sprintf("rendering %s: %s", e.Environment, oneLine(e.Err.Error()))
}

func (e *Error) Unwrap() error { return e.Err }

func render(templates fs.FS, env string) ([]byte, error) {
	in, err := FindInputs(templates, env)
	if err != nil {
		return nil, err
	}

	manifest, err := fs.ReadFile(templates, in.Manifest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Manifest, err)
	}
	// template.Evaluate parses the manifest the same way; parsing it here
	// first lets a syntax error name the file.
	var doc interface{}
	if err := yaml.Unmarshal(manifest, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", in.Manifest, err)
	}

	// As bosh int: every ops file is read and parsed before any is applied.
	var ops patch.Ops
	for _, file := range in.OpsFiles {
		fileOps, err := readOpsFile(templates, file)
		if err != nil {
			return nil, err
		}
		ops = append(ops, fileOps...)
	}

	// As opts.VarFlags.AsVariables for one -l file: a static map inside a
	// MultiVars.
	static := boshtpl.StaticVariables{}
	if in.VarsFile != "" {
		data, err := fs.ReadFile(templates, in.VarsFile)
		if err != nil {
			return nil, fmt.Errorf("vars file %s: %w", in.VarsFile, err)
		}
		var vars boshtpl.StaticVariables
		if err := yaml.Unmarshal(data, &vars); err != nil {
			return nil, fmt.Errorf("vars file %s: %w", in.VarsFile, err)
		}
		for k, v := range vars {
			static[k] = v
		}
	}
	vars := boshtpl.NewMultiVars([]boshtpl.Variables{static})

	// As cmd.InterpolateCmd without --var-errs, --var-errs-unused or --path.
	out, err := boshtpl.NewTemplate(manifest).Evaluate(vars, ops, boshtpl.EvaluateOpts{})
	if err != nil {
		var opErr *OpError
		if errors.As(err, &opErr) {
			return nil, opErr
		}
		return nil, fmt.Errorf("interpolating variables: %w", err)
	}
	return out, nil
}

// OpError is the failure of one operation of an ops file.
type OpError struct {
	File  string // path of the ops file inside the templates
	Index int    // position of the operation in its file, from 1
	Type  string // replace, remove, test
	Path  string // the op's path as written
	Err   error
}

func (e *OpError) Error() string {
	desc := e.Type
	if e.Path != "" {
		desc += " " + e.Path
	}
	if desc != "" {
		return fmt.Sprintf("ops file %s: op %d (%s): %s", e.File, e.Index, desc, e.Err)
	}
	return fmt.Sprintf("ops file %s: op %d: %s", e.File, e.Index, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// labelledOp applies an operation and labels its failure with the file and
// the position of the op. It takes the place of the patch.DescriptiveOp that
// bosh's ops-file flag wraps each op in; the document is changed the same way.
type labelledOp struct {
	op    patch.Op
	label OpError
}

func (o labelledOp) Apply(doc interface{}) (interface{}, error) {
	doc, err := o.op.Apply(doc)
	if err != nil {
		e := o.label
		e.Err = err
		return nil, &e
	}
	return doc, nil
}

// readOpsFile reads an ops file as bosh's ops-file flag does: a YAML list of
// op definitions, built with go-patch.
func readOpsFile(templates fs.FS, file string) (patch.Ops, error) {
	data, err := fs.ReadFile(templates, file)
	if err != nil {
		return nil, fmt.Errorf("ops file %s: %w", file, err)
	}
	var defs []patch.OpDefinition
	if err := yaml.Unmarshal(data, &defs); err != nil {
		return nil, fmt.Errorf("ops file %s: %w", file, err)
	}
	ops := make(patch.Ops, 0, len(defs))
	for i, def := range defs {
		label := OpError{File: file, Index: i + 1, Type: def.Type}
		if def.Path != nil {
			label.Path = *def.Path
		}
		built, err := patch.NewOpsFromDefinitions([]patch.OpDefinition{def})
		if err != nil {
			label.Err = errors.New(definitionProblem(err))
			return nil, &label
		}
		ops = append(ops, labelledOp{op: built[0], label: label})
	}
	return ops, nil
}

// definitionProblem shortens go-patch's "Replace operation [0]: Missing value
// within\n{…json…}" to "Missing value": the op is named by OpError already.
func definitionProblem(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, " within\n"); i >= 0 {
		msg = msg[:i]
	}
	if strings.HasPrefix(msg, "Unknown operation [") {
		if i := strings.Index(msg, "] with "); i >= 0 {
			return "unknown operation" + msg[i+1:]
		}
	}
	if i := strings.Index(msg, "]: "); i >= 0 {
		msg = msg[i+3:]
	}
	return msg
}

// opsFiles lists dir/*.yml in name order, as a shell expands the glob (dot
// files excluded); a missing dir has none. A .yaml file there is an error
// rather than silently ignored.
func opsFiles(templates fs.FS, dir string) ([]string, error) {
	entries, err := fs.ReadDir(templates, dir)
	if errors.Is(err, fs.ErrNotExist) {
		if exists(templates, dir) {
			return nil, fmt.Errorf("%s: not a directory", dir)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var files []string // fs.ReadDir sorts by name
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir(), strings.HasPrefix(name, "."): // as the shell's dir/*.yml
		case strings.HasSuffix(name, opsExt):
			files = append(files, path.Join(dir, name))
		case strings.HasSuffix(name, ".yaml"):
			return nil, fmt.Errorf("%s: ops files are read from %s/*%s only; rename it", path.Join(dir, name), dir, opsExt)
		}
	}
	return files, nil
}

func regularFile(templates fs.FS, name string) error {
	info, err := fs.Stat(templates, name)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: missing from the templates", name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", name)
	}
	return nil
}

func exists(templates fs.FS, name string) bool {
	_, err := fs.Stat(templates, name)
	return err == nil
}

// checkEnvironmentName insists on one plain path element.
func checkEnvironmentName(env string) error {
	if env == "" {
		return errors.New("environment name is empty")
	}
	if env == "." || env == ".." || strings.ContainsAny(env, "/\\") || !fs.ValidPath(env) {
		return fmt.Errorf("environment name %q is not a plain directory name", env)
	}
	return nil
}

// oneLine folds a multi-line message (YAML errors, go-patch details) into one
// line, as the resource's failures are reported on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " ")
}
