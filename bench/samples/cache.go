// Package lru implements a concurrency-safe LRU cache with per-entry expiry.
package lru

import (
	"container/list"
	"errors"
	"sync"
	"time"
)

// ErrNotFound is returned when a key is missing or expired.
var ErrNotFound = errors.New("lru: key not found")

type entry[K comparable, V any] struct {
	key     K
	value   V
	expires time.Time
}

// Stats counts cache traffic since creation.
type Stats struct {
	Hits      uint64
	Misses    uint64
	Evictions uint64
	Expired   uint64
}

// Cache is a fixed-capacity least-recently-used cache.
type Cache[K comparable, V any] struct {
	mu       sync.Mutex
	capacity int
	ttl      time.Duration
	order    *list.List
	items    map[K]*list.Element
	stats    Stats
	now      func() time.Time
	onEvict  func(K, V)
}

// Option configures a Cache.
type Option[K comparable, V any] func(*Cache[K, V])

// WithTTL sets a default time to live for new entries.
func WithTTL[K comparable, V any](ttl time.Duration) Option[K, V] {
	return func(c *Cache[K, V]) {
		c.ttl = ttl
	}
}

// WithEvictCallback registers a function called for every evicted entry.
func WithEvictCallback[K comparable, V any](fn func(K, V)) Option[K, V] {
	return func(c *Cache[K, V]) {
		c.onEvict = fn
	}
}

// New returns a cache holding at most capacity entries.
func New[K comparable, V any](capacity int, opts ...Option[K, V]) *Cache[K, V] {
	if capacity <= 0 {
		panic("lru: capacity must be positive")
	}
	c := &Cache[K, V]{
		capacity: capacity,
		order:    list.New(),
		items:    make(map[K]*list.Element, capacity),
		now:      time.Now,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// Get returns the value for key and marks it as recently used.
func (c *Cache[K, V]) Get(key K) (V, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.items[key]
	if !ok {
		c.stats.Misses++
		return zero, ErrNotFound
	}
	e := el.Value.(*entry[K, V])
	if !e.expires.IsZero() && c.now().After(e.expires) {
		c.removeElement(el)
		c.stats.Expired++
		c.stats.Misses++
		return zero, ErrNotFound
	}
	c.order.MoveToFront(el)
	c.stats.Hits++
	return e.value, nil
}

// Set stores value under key, evicting the least recently used entry if full.
func (c *Cache[K, V]) Set(key K, value V) {
	c.SetWithTTL(key, value, c.ttl)
}

// SetWithTTL stores value under key with an explicit time to live.
func (c *Cache[K, V]) SetWithTTL(key K, value V, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var expires time.Time
	if ttl > 0 {
		expires = c.now().Add(ttl)
	}
	if el, ok := c.items[key]; ok {
		e := el.Value.(*entry[K, V])
		e.value = value
		e.expires = expires
		c.order.MoveToFront(el)
		return
	}
	el := c.order.PushFront(&entry[K, V]{key: key, value: value, expires: expires})
	c.items[key] = el
	for c.order.Len() > c.capacity {
		oldest := c.order.Back()
		if oldest == nil {
			break
		}
		c.removeElement(oldest)
		c.stats.Evictions++
	}
}

// Delete removes key and reports whether it was present.
func (c *Cache[K, V]) Delete(key K) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return false
	}
	c.removeElement(el)
	return true
}

// Len returns the number of entries, including expired ones not yet collected.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Purge removes every expired entry and returns how many were removed.
func (c *Cache[K, V]) Purge() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	removed := 0
	now := c.now()
	for el := c.order.Back(); el != nil; {
		prev := el.Prev()
		e := el.Value.(*entry[K, V])
		if !e.expires.IsZero() && now.After(e.expires) {
			c.removeElement(el)
			c.stats.Expired++
			removed++
		}
		el = prev
	}
	return removed
}

// Stats returns a copy of the traffic counters.
func (c *Cache[K, V]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Keys returns the keys from most to least recently used.
func (c *Cache[K, V]) Keys() []K {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]K, 0, c.order.Len())
	for el := c.order.Front(); el != nil; el = el.Next() {
		keys = append(keys, el.Value.(*entry[K, V]).key)
	}
	return keys
}

func (c *Cache[K, V]) removeElement(el *list.Element) {
	e := c.order.Remove(el).(*entry[K, V])
	delete(c.items, e.key)
	if c.onEvict != nil {
		c.onEvict(e.key, e.value)
	}
}
