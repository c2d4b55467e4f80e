package yamlnode

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// Canonical turns a decoded value into plain values keyed by YAML key,
// which encoding/json writes in a stable order: a fingerprint of what was
// decoded. A file that a path field names counts by its content (a key
// NAME@sha256 beside NAME), so that a renewed CA bundle is a change.
func (w *Walker) Canonical(v reflect.Value) any {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	if v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface {
		m, ok := v.Interface().(encoding.TextMarshaler)
		if !ok && v.CanAddr() {
			m, ok = v.Addr().Interface().(encoding.TextMarshaler)
		}
		if ok {
			b, err := m.MarshalText()
			if err != nil {
				return "!" + err.Error()
			}
			return string(b)
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return w.Canonical(v.Elem())
	case reflect.Struct:
		m := map[string]any{}
		for _, f := range w.Fields(v.Type()) {
			fv := v.FieldByIndex(f.Index)
			m[f.Name] = w.Canonical(fv)
			if f.Path && fv.String() != "" {
				m[f.Name+"@sha256"] = w.fileHash(fv.String())
			}
		}
		return m
	case reflect.Map:
		m := map[string]any{}
		iter := v.MapRange()
		for iter.Next() {
			m[fmt.Sprint(iter.Key().Interface())] = w.Canonical(iter.Value())
		}
		return m
	case reflect.Slice, reflect.Array:
		l := make([]any, v.Len())
		for i := range l {
			l[i] = w.Canonical(v.Index(i))
		}
		return l
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	}
	return fmt.Sprint(v.Interface())
}

func (w *Walker) fileHash(path string) string {
	if sum, ok := w.fileSums[path]; ok {
		return sum
	}
	return "unread"
}
