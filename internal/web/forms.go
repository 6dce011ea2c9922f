package web

import (
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/mailschool/mailschool/internal/problem"
)

// formErrors are the messages of a refused form, each shown once: beside
// the field it is about, or, when the form has no such field, at the top.
// Page data embeds it, so templates read .Error for the top and call
// FieldAttrs and FieldError at each field.
type formErrors struct {
	Error  string            // what no field of the form shows, for the top
	Fields map[string]string // by field name, shown beside the field
}

// fieldSet names the fields a form shows messages beside.
type fieldSet map[string]bool

// postedFields is the set of the fields r posted, with also: those of a
// form's fields whose messages use another name than the field (the new
// password's messages are about "password"), or that the browser did not
// send (a file input, an unchecked box). Every field of a form is posted,
// so a field added to a template is covered without a list to keep.
func postedFields(r *http.Request, also ...string) fieldSet {
	shown := fieldSet{}
	for name := range r.PostForm {
		shown[name] = true
	}
	if r.MultipartForm != nil {
		for name := range r.MultipartForm.File {
			shown[name] = true
		}
	}
	for _, name := range also {
		shown[name] = true
	}
	return shown
}

// errorsFor sorts a problem's messages for a form showing the given
// fields: a message about one of them goes beside it; anything else goes
// to the top, the problem's own message when none of its messages is
// about a field. A problem whose every message is beside its field puts
// nothing at the top: its message ("correct the marked fields") would
// only repeat them.
func errorsFor(p *problem.Error, shown fieldSet) formErrors {
	if len(p.Fields) == 0 {
		return formErrors{Error: p.Message}
	}
	var e formErrors
	var top []string
	for field, msg := range p.Fields {
		if shown[field] {
			if e.Fields == nil {
				e.Fields = map[string]string{}
			}
			e.Fields[field] = msg
		} else {
			top = append(top, msg)
		}
	}
	slices.Sort(top)
	e.Error = strings.Join(top, " ")
	return e
}

// fieldErrorID is the id of the message beside a field.
func fieldErrorID(field string) string { return field + "-error" }

// FieldAttrs are the attributes of a field's input: aria-describedby
// naming its help texts (by id) and its message, and aria-invalid when it
// has one.
func (e formErrors) FieldAttrs(field string, helpIDs ...string) template.HTMLAttr {
	ids := helpIDs
	msg, invalid := e.Fields[field]
	if invalid && msg != "" {
		ids = append(ids[:len(ids):len(ids)], fieldErrorID(field))
	}
	var b strings.Builder
	if len(ids) > 0 {
		b.WriteString(` aria-describedby="`)
		b.WriteString(template.HTMLEscapeString(strings.Join(ids, " ")))
		b.WriteString(`"`)
	}
	if invalid && msg != "" {
		b.WriteString(` aria-invalid="true"`)
	}
	return template.HTMLAttr(b.String())
}

// FieldError is the message beside a field, "" when it has none.
func (e formErrors) FieldError(field string) template.HTML {
	msg := e.Fields[field]
	if msg == "" {
		return ""
	}
	return template.HTML(`<p class="field-error" id="` + template.HTMLEscapeString(fieldErrorID(field)) + `">` +
		template.HTMLEscapeString(msg) + `</p>`)
}
