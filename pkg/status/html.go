package status

import (
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/gate"
	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

// WriteHTML writes the status view as one self-contained HTML page: the
// same table as the text view, styled inline, with no external asset and no
// script.
func WriteHTML(w io.Writer, r *Report) error {
	return page.Execute(w, htmlView(r))
}

type htmlPage struct {
	R            *Report
	Environments []htmlEnv
	Rows         []htmlRow
	Shown        string
}

type htmlEnv struct {
	Environment
	Rule string
}

type htmlRow struct {
	Candidate
	Cells []htmlCell
}

type htmlCell struct {
	Cell
	Class    string
	SoakLeft string
}

func htmlView(r *Report) htmlPage {
	p := htmlPage{R: r}
	switch {
	case r.Total == 0:
		p.Shown = "no candidates yet"
	case len(r.Candidates) < r.Total:
		p.Shown = "the newest " + strconv.Itoa(len(r.Candidates)) + " of " + strconv.Itoa(r.Total) + " candidates"
	default:
		p.Shown = strconv.Itoa(r.Total) + " candidates"
	}
	for _, e := range r.Environments {
		p.Environments = append(p.Environments, htmlEnv{Environment: e, Rule: RuleText(e.Rule)})
	}
	for _, c := range r.Candidates {
		row := htmlRow{Candidate: c}
		for _, e := range r.Environments {
			cell := c.Cells[e.Name]
			hc := htmlCell{Cell: cell}
			switch {
			case c.Revoked != nil:
				hc.Class = "revoked"
			case cell.Passed():
				hc.Class = "passed"
			case cell.Eligible:
				hc.Class = "eligible"
			default:
				hc.Class = "refused"
			}
			if cell.Live {
				hc.Class += " live"
			}
			if cell.SoakLeftSeconds > 0 {
				hc.SoakLeft = seconds(cell.SoakLeftSeconds)
			}
			row.Cells = append(row.Cells, hc)
		}
		p.Rows = append(p.Rows, row)
	}
	return p
}

// RuleText describes a rule in a few words ("one of dev1, dev2; final
// releases; soak 1h0m0s").
func RuleText(r policy.Rule) string {
	var parts []string
	if len(r.RequiresAny) > 0 {
		parts = append(parts, "one of "+strings.Join(r.RequiresAny, ", "))
	}
	if len(r.RequiresAll) > 0 {
		parts = append(parts, "all of "+strings.Join(r.RequiresAll, ", "))
	}
	if r.FinalReleases {
		parts = append(parts, "final releases")
	}
	if r.UpgradeTestedIn != "" {
		parts = append(parts, "upgrade tested in "+r.UpgradeTestedIn)
	}
	if r.Soak > 0 {
		parts = append(parts, "soak "+time.Duration(r.Soak).String())
	}
	if r.Parity != nil {
		parts = append(parts, "parity with "+r.Parity.With)
	}
	if len(parts) == 0 {
		return "no requirement"
	}
	return strings.Join(parts, "; ")
}

var page = template.Must(template.New("status").Funcs(template.FuncMap{
	"describe": gate.DescribeBuild,
	"stamp":    stamp,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>candidates: {{.R.Store}}</title>
<style>
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em; color: #1d232a; background: #fff; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
p.meta { color: #555; margin: 0 0 1em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #cfd6dd; padding: .4em .6em; vertical-align: top; text-align: left; }
thead th { background: #eef2f5; }
th.version { white-space: nowrap; }
.rule, .published, .when { color: #5a6670; font-size: .85em; font-weight: normal; }
tr.livenow td, tr.livenow th { background: #f5fbf6; }
td.passed { background: #e6f4ea; }
td.eligible { background: #eaf1fb; }
td.refused { background: #fdf3e6; }
td.revoked, tr.revoked th { background: #f1f1f1; color: #777; }
td.live { box-shadow: inset 0 0 0 2px #1e8e3e; }
.badge { display: inline-block; border-radius: 3px; padding: 0 .35em; font-size: .8em; font-weight: 600; text-transform: uppercase; }
.badge.live { background: #1e8e3e; color: #fff; }
.badge.override { background: #c5221f; color: #fff; }
.badge.reset { background: #8a5a00; color: #fff; }
.badge.revoked { background: #555; color: #fff; }
.why { color: #8a4b00; }
.ok { color: #1a56b5; }
.pass + .pass { margin-top: .3em; }
a { color: #1a56b5; }
</style>
</head>
<body>
<h1>Candidates</h1>
<p class="meta">Store <code>{{.R.Store}}</code>, policy {{.R.Policy}}; {{.Shown}}; as of <time>{{stamp .R.Now}}</time> by the store's clock.</p>
<table id="status">
<thead>
<tr><th>candidate</th>{{range .Environments}}<th class="env">{{.Name}}<div class="rule">{{.Rule}}</div></th>{{end}}</tr>
<tr class="livenow"><th>live now</th>{{range .Environments}}<td class="live-version">{{if .Live}}<span class="badge live">live</span> {{.Live.Version}}<div class="when">since {{stamp .Live.Time}}</div>{{else}}nothing deployed{{end}}</td>{{end}}</tr>
</thead>
<tbody>
{{range .Rows}}<tr class="candidate{{if .Revoked}} revoked{{end}}" id="v{{.Version}}">
<th class="version">{{.Version}}<div class="published">published {{stamp .Published}}</div>{{if .Revoked}}<div><span class="badge revoked">revoked</span> {{.Revoked.Reason}}</div>{{end}}</th>
{{range .Cells}}<td class="{{.Class}}">{{range .Passes}}<div class="pass">passed <time>{{stamp .Time}}</time>{{if .Build.URL}} <a href="{{.Build.URL}}">{{with describe .Build}}{{.}}{{else}}build{{end}}</a>{{else if describe .Build}} by {{describe .Build}}{{end}}{{if .Build.CreatedBy}} (triggered by {{.Build.CreatedBy}}){{end}}{{if .Note}}<div class="note">{{.Note}}</div>{{end}}{{if .Reset}} <span class="badge reset">reset</span>{{end}}{{if .Override}} <span class="badge override">override</span> {{.Override.Reason}}<div class="why">overrode: {{.Override.Refusal}}</div>{{end}}{{if .Unreadable}} (record unreadable){{end}}</div>{{end}}{{if .Live}}<div><span class="badge live">live</span></div>{{end}}{{if .Eligible}}<div class="ok">eligible now</div>{{else}}<div class="why">{{.Refusal}}</div>{{end}}{{if .SoakLeft}}<div class="soak">soak: {{.SoakLeft}} left</div>{{end}}</td>{{end}}
</tr>
{{end}}</tbody>
</table>
</body>
</html>
`))
