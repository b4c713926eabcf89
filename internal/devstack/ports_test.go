package devstack

import (
	"sync"
	"testing"
)

// Stacks started side by side (a fleet) are never handed the same port,
// though each probe closes its port before the next stack asks.
func TestFreePortsAreHandedOutOnce(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				ports, err := freePorts(3)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, p := range ports {
					if seen[p] {
						t.Errorf("port %d handed out twice", p)
					}
					seen[p] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
