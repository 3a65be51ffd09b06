package brazehttp

import (
	"strings"
	"testing"
)

func TestCountEvents(t *testing.T) {
	for body, want := range map[string]int{
		`{"events":[]}`:                                       0,
		`{"events":[{"id":"a"},{"id":"b"}]}`:                  2,
		` {"other":{"x":[1,2]},"events":[1,"x",null,[],{}]} `: 5, // elements are not checked
		`{"events":[{"id":"a"}],"events":[]}`:                 0, // the last one counts
		"{\"events\":[{\"id\":\"\\u00e9\"}]}\n":               1,
	} {
		got, err := CountEvents([]byte(body))
		if err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", body, got, err, want)
		}
	}
	for body, want := range map[string]string{
		``:                     "empty or cut short",
		`nope`:                 "not JSON",
		`[{"id":"a"}]`:         "not an object (it starts with an array)",
		`"events"`:             "not an object (it starts with a string)",
		`{}`:                   `no "events" member`,
		`{"events":null}`:      `"events" is null, not an array`,
		`{"events":{"a":1}}`:   `"events" is an object, not an array`,
		`{"events":"[]"}`:      `"events" is a string, not an array`,
		`{"events":[{"id":}]}`: "not valid JSON",
		`{"events":[]`:         "cut short",
		`{"events":[]}{}`:      "unexpected data after the JSON object",
		`{"events":[]} x`:      "unexpected data after the JSON object",
	} {
		_, err := CountEvents([]byte(body))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "not a Braze Currents envelope: ") {
			t.Errorf("%q: error %v, want it to contain %q", body, err, want)
		}
	}
}
