package plugin

import (
	"fmt"

	"github.com/redpanda-data/benthos/v4/public/bloblang"

	"github.com/currents-segment/currents-segment/internal/componentname"
	"github.com/currents-segment/currents-segment/internal/currents"
)

// lintEventTypesMethod is the Bloblang method the processor's lint rule
// calls: Bloblang lint rules run at lint time, before any constructor, and
// Bloblang itself cannot say which known type a misspelt one is closest to.
const lintEventTypesMethod = componentname.UnknownEventTypesBloblang

// Registered from a package-level initialiser, which Go runs before every
// init function, so that the processor's spec can parse its lint rule.
var _ = registerLintEventTypes()

func registerLintEventTypes() struct{} {
	spec := bloblang.NewPluginSpec().
		Category("Object & Array Manipulation").
		Description("Returns, for each element of an array of strings that is not a Braze Currents event type currents_to_segment knows, a message naming it and the closest known type. Used by the currents_to_segment processor's lint rule.").
		Example("", `root = ["users.messages.email.Sent", "users.messages.email.Open"].`+lintEventTypesMethod+`()`,
			[2]string{`{}`, `["unknown event type \"users.messages.email.Sent\": did you mean \"users.messages.email.Send\"?"]`})
	bloblang.MustRegisterMethodV2(lintEventTypesMethod, spec, func(*bloblang.ParsedParams) (bloblang.Method, error) {
		cat := currents.DefaultCatalog()
		return bloblang.ArrayMethod(func(names []any) (any, error) {
			out := []any{}
			for i, v := range names {
				name, ok := v.(string)
				if !ok {
					return nil, fmt.Errorf("element %d is a %T, not a string", i, v)
				}
				if _, known := cat.Lookup(name); !known {
					out = append(out, cat.UnknownTypeError(name))
				}
			}
			return out, nil
		}), nil
	})
	return struct{}{}
}
