package ops

// ParseExposition reads the text format strictly; see parse_test.go.
func ParseExposition(text string) (*Exposition, error) { return parseExposition(text) }

// Exposition is a parsed /metrics output.
type Exposition = exposition

// Value returns a series' value by name and label pairs.
func (x *exposition) Value(name string, kv ...string) (float64, bool) { return x.value(name, kv...) }
