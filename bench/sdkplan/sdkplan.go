// Package sdkplan is the plan bench/sdkcalls reads on stdin: the bare SDK
// requests a P9 baseline makes, one after the other. The bench writes it.
package sdkplan

// Call is one request of the plan.
type Call struct {
	Op         string `json:"op"` // list, get, head, put
	Key        string `json:"key"`
	Delimiter  bool   `json:"delimiter,omitempty"`
	StartAfter string `json:"start_after,omitempty"`
	MaxKeys    int32  `json:"max_keys,omitempty"`
	Size       int64  `json:"size,omitempty"`
	Absent     bool   `json:"absent,omitempty"`
}
