package status

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/templates-candidate/templates-candidate-resource/pkg/gate"
	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// clean keeps text from the store on one line of a terminal: control
// characters (newlines, escapes) become spaces.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// Label is the short text of a cell in the status table: passed (with its
// marks), eligible, or the short reason it is not admitted.
func (c Cell) Label() string {
	var parts []string
	if c.Passed() {
		parts = append(parts, "passed")
		last := c.Passes[len(c.Passes)-1]
		if last.Override != nil {
			parts = append(parts, "override")
		}
		if last.Reset {
			parts = append(parts, "reset")
		}
	}
	if c.Live {
		parts = append(parts, "LIVE")
	}
	if !c.Passed() {
		switch {
		case c.Eligible:
			parts = append(parts, "eligible")
		default:
			parts = append(parts, c.Reason())
		}
	}
	return strings.Join(parts, " ")
}

// Reason is a short form of why the cell is not admitted ("" when it is).
func (c Cell) Reason() string {
	if c.Eligible {
		return ""
	}
	r := c.refusal
	if r == nil {
		return "not admitted"
	}
	if r.Revoked != "" {
		return "revoked"
	}
	var why []string
	if len(r.AnyOf) > 0 {
		why = append(why, "needs one of "+strings.Join(r.AnyOf, "/"))
	}
	if len(r.Missing) > 0 {
		why = append(why, "needs "+strings.Join(r.Missing, "+"))
	}
	if len(r.NotFinal) > 0 {
		why = append(why, "releases not final")
	}
	if r.ReleasesUnknown {
		why = append(why, "releases unknown")
	}
	if r.Upgrade != "" {
		why = append(why, "upgrade untested")
	}
	if r.ParityUnknown != nil {
		why = append(why, "parity unknown")
	}
	if r.SoakUnknown {
		why = append(why, "soak unknown")
	}
	if c.SoakLeftSeconds > 0 {
		why = append(why, "soak "+seconds(c.SoakLeftSeconds)+" left")
	}
	if len(why) == 0 {
		return "not admitted"
	}
	return strings.Join(why, ", ")
}

// WriteStatusText writes the status view as a table, then each candidate's
// passes and refusals in full.
func WriteStatusText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "store %s (policy %d)%s, now %s by the store's clock\n", r.Store, r.Policy, line(r.SemverConstraint), stamp(r.Now))
	switch {
	case r.Total == 0:
		b.WriteString("no candidates yet\n")
	case len(r.Candidates) < r.Total:
		fmt.Fprintf(&b, "the newest %d of %d candidates (--all shows every one)\n", len(r.Candidates), r.Total)
	default:
		fmt.Fprintf(&b, "%d candidates\n", r.Total)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := []string{"CANDIDATE"}
	live := []string{"live now"}
	for _, e := range r.Environments {
		row = append(row, e.Name)
		if e.Live != nil {
			live = append(live, e.Live.Version)
		} else {
			live = append(live, "-")
		}
	}
	fmt.Fprintln(tw, strings.Join(row, "\t"))
	fmt.Fprintln(tw, strings.Join(live, "\t"))
	for _, c := range r.Candidates {
		name := c.Version
		if c.Revoked != nil {
			name += " REVOKED"
		}
		row := []string{name}
		for _, e := range r.Environments {
			row = append(row, c.Cells[e.Name].Label())
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()

	for _, c := range r.Candidates {
		fmt.Fprintf(&b, "\n%s  published %s\n", c.Version, stamp(c.Published))
		if c.Revoked != nil {
			fmt.Fprintf(&b, "  REVOKED%s: %s\n", revokedBy(c.Revoked), clean(c.Revoked.Reason))
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, e := range r.Environments {
			cell := c.Cells[e.Name]
			for i, p := range cell.Passes {
				live := ""
				if cell.Live && i == len(cell.Passes)-1 {
					live = " [live]"
				}
				fmt.Fprintf(tw, "  %s\t%s%s\n", e.Name, passText(p), live)
			}
			if !cell.Passed() && !cell.Eligible && c.Revoked == nil {
				fmt.Fprintf(tw, "  %s\tnot admitted: %s\n", e.Name, clean(cell.Refusal))
			}
		}
		tw.Flush()
	}
	return writeTrimmed(w, b.String())
}

func revokedBy(r *Revocation) string {
	s := ""
	if !r.Time.IsZero() {
		s += " at " + stamp(r.Time)
	}
	if b := gate.DescribeBuild(r.Build); b != "" {
		s += " by " + clean(b)
	}
	return s
}

// passText is one pass on one line: time, build, who, URL, note, marks.
func passText(p Pass) string {
	if p.Unreadable {
		return "passed " + stamp(p.Time) + " (its record is unreadable)"
	}
	s := "passed " + stamp(p.Time)
	if b := gate.DescribeBuild(p.Build); b != "" {
		s += " by " + clean(b)
	}
	if p.Build.CreatedBy != "" {
		s += " (triggered by " + clean(p.Build.CreatedBy) + ")"
	}
	if p.Build.URL != "" {
		s += " " + clean(p.Build.URL)
	}
	if p.Note != "" {
		s += fmt.Sprintf(" note %q", p.Note)
	}
	if p.Reset {
		s += " [reset]"
	}
	if p.Override != nil {
		s += fmt.Sprintf(" [override: %s; it overrode: %s]", clean(p.Override.Reason), clean(p.Override.Refusal))
	}
	return s
}

// WriteExplainText writes the decision, then each requirement met or not.
func WriteExplainText(w io.Writer, x *Explanation) error {
	var b strings.Builder
	verdict := "ADMITTED now: a pass of " + x.Environment + " would be recorded"
	if !x.Admitted {
		verdict = "NOT ADMITTED now"
	}
	fmt.Fprintf(&b, "candidate %s for %s: %s\n", x.Version, x.Environment, verdict)
	fmt.Fprintf(&b, "store %s (policy %d), now %s by the store's clock; published %s\n\n", x.Store, x.Policy, stamp(x.Now), stamp(x.Published))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, r := range x.Requirements {
		met := "met"
		if !r.Met {
			met = "NOT MET"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", met, clean(r.Text))
		for _, p := range r.Passes {
			fmt.Fprintf(tw, "  \t    %s %s\n", p.Environment, passText(p.Pass))
		}
		if (r.Kind == KindRequiresAny || r.Kind == KindRequiresAll) && len(r.Passes) == 0 {
			fmt.Fprintf(tw, "  \t    no pass yet\n")
		}
		for _, rel := range r.Releases {
			fmt.Fprintf(tw, "  \t    %s\n", releaseText(rel))
		}
	}
	if len(x.Requirements) == 1 {
		fmt.Fprintf(tw, "  \t(%s has no other requirement)\n", x.Environment)
	}
	tw.Flush()
	if x.Refusal != "" {
		fmt.Fprintf(&b, "\nrefused: %s\n", clean(x.Refusal))
	}
	b.WriteString("\n")
	if x.Live != nil {
		fmt.Fprintf(&b, "live in %s: %s, deployed %s\n", x.Environment, x.Live.Version, stamp(x.Live.Time))
	} else {
		fmt.Fprintf(&b, "live in %s: nothing deployed yet\n", x.Environment)
	}
	if len(x.Passes) == 0 {
		fmt.Fprintf(&b, "%s has not passed %s\n", x.Version, x.Environment)
	}
	for _, p := range x.Passes {
		fmt.Fprintf(&b, "%s in %s: %s\n", x.Version, x.Environment, passText(p))
	}
	return writeTrimmed(w, b.String())
}

func releaseText(r policy.Release) string {
	v := r.Version
	if v == "" {
		v = "(no version)"
	}
	if r.Final {
		return r.Name + " " + v + " final"
	}
	return r.Name + " " + v + " NOT final"
}

// WriteHistoryText writes the deployments of an environment as a table,
// oldest first, the live one marked.
func WriteHistoryText(w io.Writer, h *History) error {
	var b strings.Builder
	liveElsewhere := h.Live != nil && (len(h.Deployments) == 0 || !h.Deployments[len(h.Deployments)-1].Live)
	if len(h.Deployments) == 0 {
		fmt.Fprintf(&b, "no deployments of %s%s yet (store %s, now %s by the store's clock)\n", h.Environment, line(h.SemverConstraint), h.Store, stamp(h.Now))
		if liveElsewhere {
			fmt.Fprintf(&b, "live in %s: %s, outside source.semver_constraint\n", h.Environment, h.Live.Version)
		}
		return writeTrimmed(w, b.String())
	}
	fmt.Fprintf(&b, "deployments of %s%s, oldest first (store %s, now %s by the store's clock)\n\n", h.Environment, line(h.SemverConstraint), h.Store, stamp(h.Now))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tVERSION\tMARKS\tBUILD\tURL\tNOTE")
	for _, d := range h.Deployments {
		var marks []string
		if d.Live {
			marks = append(marks, "LIVE")
		}
		if d.Override != nil {
			marks = append(marks, "override")
		}
		if d.Reset {
			marks = append(marks, "reset")
		}
		if d.Revoked {
			marks = append(marks, "revoked")
		}
		if d.Unreadable {
			marks = append(marks, "unreadable")
		}
		build := gate.DescribeBuild(d.Build)
		if d.Build.CreatedBy != "" {
			build += " (" + d.Build.CreatedBy + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Time.UTC().Format(time.RFC3339Nano), d.Version,
			dash(strings.Join(marks, ",")), dash(clean(build)), dash(clean(d.Build.URL)), clean(d.Note))
	}
	tw.Flush()
	if liveElsewhere {
		fmt.Fprintf(&b, "\nlive in %s: %s, outside source.semver_constraint\n", h.Environment, h.Live.Version)
	}
	for _, d := range h.Deployments {
		if d.Override != nil {
			fmt.Fprintf(&b, "\n%s at %s was an override: %s (it overrode: %s)", d.Version, d.Time.UTC().Format(time.RFC3339Nano), clean(d.Override.Reason), clean(d.Override.Refusal))
		}
	}
	if strings.Contains(b.String(), "was an override") {
		b.WriteString("\n")
	}
	return writeTrimmed(w, b.String())
}

// line names a version line in a header.
func line(constraint string) string {
	if constraint == "" {
		return ""
	}
	return ", versions " + constraint
}

// writeTrimmed writes text without the padding a table leaves at the end
// of a line.
func writeTrimmed(w io.Writer, text string) error {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n"))
	return err
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
