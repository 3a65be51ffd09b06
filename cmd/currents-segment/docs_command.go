package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/urfave/cli/v2"
)

// docsCommand prints a component's documentation from the binary itself.
// Benthos v4.60.0's `list` prints names (text, json) or the whole schema as
// one JSON document (json-full, jsonschema, cue), and no command renders one
// component's fields for a reader: this one does, from the same specs that
// lint and create use, so it cannot drift from them. It offers no markdown:
// ConfigView.RenderDocs fails in v4.60.0 (public/service/config_docs.go:348
// executes internal/docs/component_markdown.go:71, which asks for an
// AdvancedConfig field that TemplateDataPlugin does not have).
func docsCommand() *cli.Command {
	return &cli.Command{
		Name:      "docs",
		Usage:     "Print the documentation of components: summary, fields, defaults and examples",
		ArgsUsage: "<component>...",
		Description: `Prints what a component does and every field it takes, from the specs compiled
into this binary (ours and Benthos's core ones):

  currents-segment docs braze_currents currents_to_segment segment
  currents-segment docs --type buffer disk
  currents-segment docs --format json segment`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "type", Usage: "only look among components of this type (input, processor, output, buffer, metrics, ...), for a name several types share"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() == 0 {
				_ = cli.ShowSubcommandHelp(c)
				return errors.New("name at least one component, e.g. docs segment")
			}
			for i, name := range c.Args().Slice() {
				if i > 0 {
					fmt.Fprintln(c.App.Writer)
				}
				if err := printComponentDocs(c.App.Writer, service.GlobalEnvironment(), name, c.String("type"), c.String("format")); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// componentView is one component found by name.
type componentView struct {
	kind string
	view *service.ConfigView
}

// findComponent returns every component called name, of kind when kind is
// set: `file` is an input and an output, `disk` only a buffer.
func findComponent(env *service.Environment, name, kind string) []componentView {
	var found []componentView
	collect := func(k string) func(string, *service.ConfigView) {
		return func(n string, v *service.ConfigView) {
			if n == name && (kind == "" || kind == k) {
				found = append(found, componentView{k, v})
			}
		}
	}
	env.WalkInputs(collect("input"))
	env.WalkBuffers(collect("buffer"))
	env.WalkProcessors(collect("processor"))
	env.WalkOutputs(collect("output"))
	env.WalkCaches(collect("cache"))
	env.WalkRateLimits(collect("rate_limit"))
	env.WalkMetrics(collect("metrics"))
	env.WalkTracers(collect("tracer"))
	env.WalkScanners(collect("scanner"))
	return found
}

func printComponentDocs(w io.Writer, env *service.Environment, name, kind, format string) error {
	found := findComponent(env, name, kind)
	if len(found) == 0 {
		return fmt.Errorf("no component %q%s: `currents-segment list` names them all", name, ofKind(kind))
	}
	for i, c := range found {
		if i > 0 {
			fmt.Fprintln(w)
		}
		switch format {
		case "json":
			data, err := c.view.TemplateData()
			if err != nil {
				return fmt.Errorf("%s %s: %w", c.kind, name, err)
			}
			b, err := json.MarshalIndent(data, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(w, string(b))
		case "text", "":
			data, err := c.view.TemplateData()
			if err != nil {
				return fmt.Errorf("%s %s: %w", c.kind, name, err)
			}
			writeComponentText(w, c.kind, data)
		default:
			return fmt.Errorf("unknown --format %q: text or json", format)
		}
	}
	return nil
}

func ofKind(kind string) string {
	if kind == "" {
		return ""
	}
	return " of type " + kind
}

// writeComponentText renders a component for a terminal: what it is, then
// each field with its type, default and examples, then the example configs.
func writeComponentText(w io.Writer, kind string, d service.TemplateDataPlugin) {
	fmt.Fprintf(w, "%s %s (%s)\n", kind, d.Name, d.Status)
	if d.Summary != "" {
		fmt.Fprintf(w, "\n%s\n", indent(d.Summary, ""))
	}
	if d.Description != "" {
		fmt.Fprintf(w, "\n%s\n", indent(strings.TrimSpace(d.Description), ""))
	}
	if len(d.Fields) > 0 {
		fmt.Fprintln(w, "\nFIELDS:")
	}
	for _, f := range d.Fields {
		fmt.Fprintf(w, "\n  %s (%s", f.FullName, f.Type)
		if f.IsInterpolated {
			fmt.Fprint(w, ", interpolated")
		}
		if f.IsSecret {
			fmt.Fprint(w, ", secret")
		}
		switch {
		case f.DefaultMarshalled != "":
			fmt.Fprintf(w, ", default %s", f.DefaultMarshalled)
		default:
			fmt.Fprint(w, ", no default")
		}
		fmt.Fprintln(w, ")")
		if f.Description != "" {
			fmt.Fprintln(w, indent(strings.TrimSpace(f.Description), "    "))
		}
		if len(f.Options) > 0 {
			fmt.Fprintf(w, "    Options: %s.\n", strings.Join(f.Options, ", "))
		}
		for _, o := range f.AnnotatedOptions {
			fmt.Fprintf(w, "    %s: %s\n", o[0], o[1])
		}
		for _, e := range f.ExamplesMarshalled {
			fmt.Fprintf(w, "    Example: %s\n", strings.TrimSpace(strings.ReplaceAll(e, "\n", " ")))
		}
	}
	for _, e := range d.Examples {
		fmt.Fprintf(w, "\nEXAMPLE: %s\n", e.Title)
		if e.Summary != "" {
			fmt.Fprintln(w, indent(strings.TrimSpace(e.Summary), "  "))
		}
		fmt.Fprintln(w, indent(strings.Trim(e.Config, "\n"), "    "))
	}
}

// indent prefixes every line of s with prefix.
func indent(s, prefix string) string {
	if prefix == "" {
		return s
	}
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
