package segmenttest

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
)

// decodeBatchCounting is decodeBatch for a CountOnly receiver: the same
// messages and the same answers, in about a quarter of the CPU.
//
// Why it exists: the benchmarks run the receiver on the cores the pipeline
// under test uses, and decodeBatch (encoding/json into raw messages, then
// each message again into its fields: four scans of every byte) cost more
// CPU per event than the whole pipeline did, so every end-to-end figure
// measured the stand-in as much as the pipeline. Segment's own servers cost
// a pipeline's host nothing.
//
// What stays independent of the code under test: encoding/json still
// decides whether the body is JSON (json.Valid, a scan that allocates
// nothing). Only then does jsonscan find the messages and their fields, in
// one pass. Anything off the common path (a key spelled with escapes or in
// another case, which encoding/json would fold onto a field; "batch" given
// twice or not an array; a message that is not an object or is too large;
// too many messages; invalid JSON) is handed to decodeBatch, so that every
// answer, error text included, is decodeBatch's own.
// TestCountingDecodeMatchesDecodeBatch and its fuzz test hold the two to
// the same result.
func decodeBatchCounting(body []byte) ([]Message, *apiError) {
	if !json.Valid(body) {
		return decodeBatch(body)
	}
	msgs, ok := scanBatch(body)
	if !ok {
		return decodeBatch(body)
	}
	return msgs, nil
}

// scanBatch reads a valid /v1/batch body; ok is false wherever the answer
// must come from decodeBatch.
func scanBatch(body []byte) (msgs []Message, ok bool) {
	s := jsonscan.NewScanner(body)
	s.SkipSpace()
	top := jsonscan.NewObjectIter(s, 0)
	if top.Open() != nil {
		return nil, false
	}
	var sentAt []byte
	sentAtEsc, found := false, false
	for {
		more, err := top.NextKey()
		if err != nil {
			return nil, false
		}
		if !more {
			break
		}
		switch field(top.Key, top.KeyEsc, "batch", "sentAt") {
		case -1:
			return nil, false
		case 0:
			if found || top.Peek() != '[' {
				return nil, false
			}
			found = true
			arr := top.NestedArray()
			msgs, ok = scanMessages(&arr)
			top.EndNestedArray(&arr)
			if !ok {
				return nil, false
			}
			continue
		case 1:
			if top.ReadValue() != nil {
				return nil, false
			}
			sentAt, sentAtEsc = top.Val, top.Esc
			continue
		}
		if top.ReadValue() != nil {
			return nil, false
		}
	}
	if !found {
		return nil, false
	}
	at := scannedText(sentAt, sentAtEsc)
	for i := range msgs {
		msgs[i].SentAt = at
	}
	return msgs, true
}

// scanMessages reads the batch array's messages.
func scanMessages(arr *jsonscan.ArrayIter) ([]Message, bool) {
	if arr.Open() != nil {
		return nil, false
	}
	msgs := make([]Message, 0, 256)
	for {
		more, err := arr.NextElem()
		if err != nil {
			return nil, false
		}
		if !more {
			return msgs, true
		}
		if arr.Peek() != '{' || len(msgs) == MaxBatchMessages {
			return nil, false
		}
		obj := arr.Nested()
		m, ok := scanMessage(&obj)
		arr.EndNested(&obj)
		if !ok || len(arr.Val) > MaxMessageBytes {
			return nil, false
		}
		m.Raw = arr.Val
		msgs = append(msgs, m)
	}
}

// messageFields are the keys decodeMessage decodes, in the order of its
// struct; the index is what field returns.
var messageFields = []string{"messageId", "type", "event", "userId", "anonymousId", "timestamp", "sentAt"}

// scanMessage reads one message's common fields. Like encoding/json, a key
// given twice counts the last time.
func scanMessage(obj *jsonscan.ObjectIter) (Message, bool) {
	if obj.Open() != nil {
		return Message{}, false
	}
	var vals [7][]byte
	var escs [7]bool
	for {
		more, err := obj.NextKey()
		if err != nil {
			return Message{}, false
		}
		if !more {
			break
		}
		i := field(obj.Key, obj.KeyEsc, messageFields...)
		if i == -1 || obj.ReadValue() != nil {
			return Message{}, false
		}
		if i >= 0 {
			vals[i], escs[i] = obj.Val, obj.Esc
		}
	}
	text := func(i int) string { return scannedText(vals[i], escs[i]) }
	return Message{
		ID: text(0), Type: text(1), Event: text(2), UserID: text(3),
		AnonymousID: text(4), Timestamp: text(5), SentAt: text(6),
	}, true
}

// scannedText is jsonText for a value jsonscan read: a string without
// escapes is its bytes between the quotes (jsonscan checked they are UTF-8,
// so encoding/json would decode them unchanged), without jsonText's
// json.Unmarshal, which was most of this reader's allocations.
func scannedText(val []byte, esc bool) string {
	if len(val) >= 2 && val[0] == '"' && !esc {
		return string(val[1 : len(val)-1])
	}
	return jsonText(val)
}

// field returns the index of the name key is, -2 for a key that is none of
// them, and -1 for a key encoding/json might still match to one of them,
// which scanBatch leaves to decodeBatch: an escaped key, one equal to a name
// but for ASCII case, and any key outside ASCII (encoding/json folds some
// other letters onto ASCII ones: "ſ" onto "S", "ı" onto "I").
func field(key []byte, esc bool, names ...string) int {
	if esc {
		return -1
	}
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return -1
		}
	}
	for _, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return -1
		}
	}
	return -2
}
