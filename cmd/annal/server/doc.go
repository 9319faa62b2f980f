// Package server wires one annal node: the Pebble state store, the
// dragonboat host and its shards, the chunk devices, the command service
// and the gateways. It is the only place that touches the real clock,
// disk and network (besides the device and transport implementations
// themselves); everything below it receives them.
package server
