package yamldoc

import "testing"

func TestSecond(t *testing.T) {
	tests := []struct {
		name, in string
		line     int // of the "---" that starts it
		err      bool
	}{
		{"one document", "a: 1\nb: 2\n", 0, false},
		{"leading separator", "---\na: 1\n", 0, false},
		{"trailing separator", "a: 1\n---\n", 0, false},
		{"trailing separator and comment", "a: 1\n---\n# nothing\n", 0, false},
		{"two documents", "a: 1\n---\nb: 2\n", 2, false},
		{"second after an empty one", "a: 1\n---\n---\nc: 3\n", 3, false},
		{"broken second", "a: 1\n---\nb: [\n", 0, true},
		{"broken first is the parser's", "a: [\n", 0, false},
		{"empty file", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, err := Second([]byte(tt.in))
			if line != tt.line || (err != nil) != tt.err {
				t.Errorf("Second = %d, %v; want %d, error %v", line, err, tt.line, tt.err)
			}
		})
	}
}
