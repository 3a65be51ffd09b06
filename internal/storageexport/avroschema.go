package storageexport

import (
	"encoding/json"
	"fmt"
	"strings"
)

// schemaNode is the part of an Avro schema that writing a decoded record as
// plain JSON needs: goavro decodes a union value as {"<branch type>": value},
// and only the schema tells such a wrapper from a record or map that happens
// to have one key.
type schemaNode struct {
	kind string // record, array, map, union, enum, fixed or a primitive
	// fullName is the named types' namespace-qualified name (record, enum,
	// fixed), which is also their key in a union value.
	fullName string
	fields   []schemaField          // record
	items    *schemaNode            // array and map values
	branches map[string]*schemaNode // union, by the key goavro uses
}

type schemaField struct {
	name string
	node *schemaNode
}

// parseSchema reads an Avro schema (JSON text, as an object container file's
// header holds it).
func parseSchema(text string) (*schemaNode, error) {
	var raw any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("the schema in the header is not JSON: %w", err)
	}
	p := schemaParser{named: map[string]*schemaNode{}}
	return p.node(raw, "")
}

type schemaParser struct {
	named map[string]*schemaNode
}

func (p *schemaParser) node(raw any, namespace string) (*schemaNode, error) {
	switch v := raw.(type) {
	case string:
		switch v {
		case "null", "boolean", "int", "long", "float", "double", "bytes", "string":
			return &schemaNode{kind: v}, nil
		}
		if n, ok := p.named[qualify(v, namespace)]; ok {
			return n, nil
		}
		if n, ok := p.named[v]; ok {
			return n, nil
		}
		return nil, fmt.Errorf("the schema names type %q, which it does not define", v)
	case []any:
		u := &schemaNode{kind: "union", branches: map[string]*schemaNode{}}
		for _, b := range v {
			n, err := p.node(b, namespace)
			if err != nil {
				return nil, err
			}
			u.branches[n.unionKey()] = n
		}
		return u, nil
	case map[string]any:
		t, _ := v["type"].(string)
		switch t {
		case "record", "error", "enum", "fixed":
			name, _ := v["name"].(string)
			ns := namespace
			if s, ok := v["namespace"].(string); ok {
				ns = s
			}
			full := qualify(name, ns)
			if i := strings.LastIndexByte(full, '.'); i >= 0 {
				ns = full[:i]
			}
			n := &schemaNode{kind: t, fullName: full}
			if t == "error" {
				n.kind = "record"
			}
			p.named[full] = n
			if n.kind != "record" {
				return n, nil
			}
			fields, _ := v["fields"].([]any)
			for _, f := range fields {
				fm, _ := f.(map[string]any)
				fname, _ := fm["name"].(string)
				fn, err := p.node(fm["type"], ns)
				if err != nil {
					return nil, fmt.Errorf("field %q: %w", fname, err)
				}
				n.fields = append(n.fields, schemaField{name: fname, node: fn})
			}
			return n, nil
		case "array", "map":
			key := "items"
			if t == "map" {
				key = "values"
			}
			items, err := p.node(v[key], namespace)
			if err != nil {
				return nil, err
			}
			return &schemaNode{kind: t, items: items}, nil
		default:
			// {"type": "string", "logicalType": ...} and the like.
			return p.node(v["type"], namespace)
		}
	}
	return nil, fmt.Errorf("the schema has a type of an unexpected form: %v", raw)
}

// unionKey is the key under which goavro decodes a union value of this type.
func (n *schemaNode) unionKey() string {
	if n.fullName != "" {
		return n.fullName
	}
	return n.kind
}

// recordName splits a record schema's full name into namespace and name.
func (n *schemaNode) recordName() (namespace, name string) {
	i := strings.LastIndexByte(n.fullName, '.')
	if i < 0 {
		return "", n.fullName
	}
	return n.fullName[:i], n.fullName[i+1:]
}

func qualify(name, namespace string) string {
	if strings.Contains(name, ".") || namespace == "" {
		return name
	}
	return namespace + "." + name
}
