package brazehttp

// Logger is the logging the handler needs. *service.Logger from Benthos
// satisfies it. Nothing the handler logs contains a token or the
// Authorization header: a refused token is described ("wrong bearer token"),
// never quoted, and no header is logged.
type Logger interface {
	Debugf(format string, args ...any)
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
}

type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}

// warn logs first at WARN when the handler's limiter lets a line of kind
// through (a sender repeating a mistake thousands of times a minute costs
// one line a minute), else rest, which logs at DEBUG. note ends the WARN
// line: how many were held back and where the next ones go.
func (h *Handler) warn(kind string, first func(l Logger, note string), rest func(Logger)) {
	if due, held := h.warns.Allow(kind); due {
		first(h.log, h.warns.Note(held))
		return
	}
	rest(h.log)
}
