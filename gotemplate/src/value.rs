//! The values a template sees: a model of the Go values Helm hands to `text/template`.
//!
//! Helm's data is Go's `interface{}` world: values read from YAML arrive as
//! `map[string]interface{}`, `[]interface{}`, `string`, `bool` and `float64` (every YAML number
//! becomes a `float64`, which is why `1000000` prints as `1e+06`), while functions add `int`,
//! `int64`, `[]string`, `[]byte`, time values and opaque objects such as `.Files` or
//! `.Capabilities`. Printing, comparison, truthiness and the type names that `typeOf`, `kindOf`
//! and `%T` show all depend on the exact Go type, so [`Value`] keeps it: integers carry their
//! [`IntKind`], lists and maps carry their element [`Type`].
//!
//! Everything big is reference counted ([`Arc`]), so cloning a [`Value`] is cheap whatever it
//! holds. Maps are Go maps: shared and mutable in place (Sprig's `set`, `unset` and `merge` change
//! the map every alias sees), hence the lock inside [`Map`]. Lists and strings are immutable.

use std::any::Any;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::funcs::{CallContext, FuncError, Signature};

/// A Go value as a template sees it.
///
/// `Nil` is Go's nil `interface{}` (a YAML `null`, a missing key under `missingkey=zero`, the
/// `nil` keyword passed to a function). The executor has a separate notion of "no value" (Go's
/// invalid `reflect.Value`) which never reaches a function: functions receive `Nil` instead,
/// exactly as Go passes a nil `interface{}`.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's nil `interface{}`.
    #[default]
    Nil,
    /// `bool`.
    Bool(bool),
    /// A signed integer: `int`, `int8`, `int16`, `int32` (also `rune`) or `int64`.
    Int(i64, IntKind),
    /// An unsigned integer: `uint`, `uint8` (also `byte`), `uint16`, `uint32`, `uint64`, `uintptr`.
    Uint(u64, UintKind),
    /// `float64` or `float32` (a `float32` is stored widened; it prints with 32-bit precision).
    Float(f64, FloatKind),
    /// `string`.
    String(Arc<str>),
    /// `[]byte`.
    Bytes(Arc<[u8]>),
    /// A slice: `[]interface{}`, `[]string`, `[]int`...
    List(Arc<List>),
    /// A map with string keys: `map[string]interface{}`, `map[string]string`...
    Map(Arc<Map>),
    /// Anything else: a Go struct or pointer with fields and methods (`.Capabilities`, `.Files`,
    /// a `time.Time`...). See [`Object`].
    Object(Arc<dyn Object>),
}

/// The kinds of Go's signed integer types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntKind {
    Int,
    Int8,
    Int16,
    Int32,
    Int64,
}

/// The kinds of Go's unsigned integer types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UintKind {
    Uint,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Uintptr,
}

/// The kinds of Go's floating-point types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatKind {
    Float32,
    Float64,
}

/// A Go type, as far as templates can tell types apart: the element type of a list or map, the
/// parameter types of a function, and what `%T` and `typeOf` print.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `interface {}`: any value.
    Interface,
    Bool,
    Int(IntKind),
    Uint(UintKind),
    Float(FloatKind),
    String,
    /// `[]T`; `[]uint8` is `[]byte`.
    Slice(Arc<Type>),
    /// `map[string]T`.
    Map(Arc<Type>),
    /// Any other type, by its Go name as `%T` prints it (e.g. `time.Time`,
    /// `*chart.Metadata`). Values of it are [`Value::Object`]s whose
    /// [`Object::type_name`] is this name.
    Named(Arc<str>),
}

/// Go's `reflect.Kind`, as Sprig's `kindOf`/`kindIs` print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Invalid,
    Bool,
    Int,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Uintptr,
    Float32,
    Float64,
    Complex128,
    String,
    Slice,
    Map,
    Struct,
    Ptr,
    Func,
    Interface,
}

/// A Go slice. Immutable: functions that "append" build a new list, as Sprig does.
#[derive(Clone, Debug)]
pub struct List {
    /// The elements in order.
    pub items: Vec<Value>,
    /// The element type (`interface {}` for lists from YAML, `string` for `[]string`).
    pub elem: Type,
}

/// A Go map with string keys. Shared and mutable like a Go map: every [`Value::Map`] clone is an
/// alias of the same map. Iteration is in sorted key order (byte order), as `range` and `%v` do.
///
/// Never hold a guard from [`Map::read`] or [`Map::write`] while calling back into the executor
/// or into another function: a template may change the same map meanwhile (use
/// [`Map::snapshot`] to iterate instead).
pub struct Map {
    entries: RwLock<BTreeMap<String, Value>>,
    elem: Type,
}

/// A Go value that is neither a basic value nor a slice or map with string keys: a struct or a
/// pointer with exported fields and methods (`.Capabilities`, `.Files`, `.Chart`), or a value with
/// behaviour of its own (`time.Time`, a semantic version).
///
/// Field access `.X` on an object first looks for a method `X` (like Go, methods win), then for a
/// field `X`; a missing one is Go's `can't evaluate field X in type T`.
///
/// Implementors can be recovered by downcasting (`Object` is `Any`):
/// `(&**obj as &dyn Any).downcast_ref::<MyTime>()`.
pub trait Object: Any + Send + Sync + fmt::Debug {
    /// The Go type name as `%T` prints it: `time.Time`, `*chart.Metadata`, `chartutil.Files`.
    fn type_name(&self) -> Cow<'_, str>;

    /// The Go kind (`struct` unless the type is a pointer, a named slice or a named map).
    fn kind(&self) -> Kind {
        Kind::Struct
    }

    /// The exported field `name`, if the type has one.
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    /// The signature of the method `name`, if the type has one. `.Files.Get "x"` calls it with
    /// the arguments checked against this signature, like a function.
    fn method(&self, _name: &str) -> Option<Signature> {
        None
    }

    /// Calls the method `name` (one for which [`Object::method`] returned a signature) with
    /// arguments already checked against that signature.
    fn call_method(
        &self,
        name: &str,
        _ctx: &mut CallContext<'_, '_>,
        _args: &[Value],
    ) -> Result<Value, FuncError> {
        Err(FuncError::new(format!(
            "{} has no method {name}",
            self.type_name()
        )))
    }

    /// For a named slice or map type (`type VersionSet []string`): the value it is underneath, so
    /// that `range`, `len`, `index`, truthiness and printing treat it as the slice or map.
    fn underlying(&self) -> Option<Value> {
        None
    }

    /// Go's `String() string`, if the type is a `fmt.Stringer` (or an `error`): printing and the
    /// `%v`, `%s` and `%q` verbs use it.
    fn stringer(&self) -> Option<String> {
        None
    }

    /// Whether [`Object::stringer`] is a method on the pointer type only
    /// (`func (kv *KubeVersion) String()` on a struct held by value): Go then uses it when a
    /// template prints the value directly (`{{ .Capabilities.KubeVersion }}`, addressable) but
    /// not through `printf "%v"` (a copy), which prints the fields instead.
    fn stringer_needs_pointer(&self) -> bool {
        false
    }

    /// The fields in declaration order, for printing a struct that is not a Stringer as Go does
    /// (`{a 1}`; `%+v` gives `{Name:a Size:1}`; a pointer adds `&`).
    fn print_fields(&self) -> Vec<(Cow<'_, str>, Value)> {
        Vec::new()
    }

    /// Whether this is a nil pointer of its type (`{{ if }}` is false, field access fails).
    fn is_nil(&self) -> bool {
        false
    }

    /// Go's `==` for two values of this type. Pointers compare by identity (the default);
    /// struct types that are comparable override this.
    fn equals(&self, other: &dyn Object) -> bool {
        std::ptr::addr_eq(self as *const Self, other as *const dyn Object)
    }
}

impl Value {
    /// A Go `int`.
    pub fn int(n: i64) -> Value {
        Value::Int(n, IntKind::Int)
    }

    /// A Go `int64`.
    pub fn int64(n: i64) -> Value {
        Value::Int(n, IntKind::Int64)
    }

    /// A Go `float64`.
    pub fn float(f: f64) -> Value {
        Value::Float(f, FloatKind::Float64)
    }

    /// A Go `string`.
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    /// A Go `[]byte`.
    pub fn bytes(b: impl Into<Arc<[u8]>>) -> Value {
        Value::Bytes(b.into())
    }

    /// A Go `[]interface{}`.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(List {
            items,
            elem: Type::Interface,
        }))
    }

    /// A Go `[]string`.
    pub fn string_list<S: Into<Arc<str>>>(items: impl IntoIterator<Item = S>) -> Value {
        Value::List(Arc::new(List {
            items: items.into_iter().map(|s| Value::String(s.into())).collect(),
            elem: Type::String,
        }))
    }

    /// A slice of the given element type (the caller keeps the elements of that type).
    pub fn typed_list(items: Vec<Value>, elem: Type) -> Value {
        Value::List(Arc::new(List { items, elem }))
    }

    /// A Go `map[string]interface{}`.
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Arc::new(Map::new(entries, Type::Interface)))
    }

    /// A map of the given element type, e.g. `map[string]string` with `Type::String`.
    pub fn typed_map(entries: BTreeMap<String, Value>, elem: Type) -> Value {
        Value::Map(Arc::new(Map::new(entries, elem)))
    }

    /// An opaque Go value.
    pub fn object(object: impl Object) -> Value {
        Value::Object(Arc::new(object))
    }

    /// The Go type of this value (`Nil` has none and reports `interface {}`).
    pub fn go_type(&self) -> Type {
        match self {
            Value::Nil => Type::Interface,
            Value::Bool(_) => Type::Bool,
            Value::Int(_, k) => Type::Int(*k),
            Value::Uint(_, k) => Type::Uint(*k),
            Value::Float(_, k) => Type::Float(*k),
            Value::String(_) => Type::String,
            Value::Bytes(_) => Type::Slice(Arc::new(Type::Uint(UintKind::Uint8))),
            Value::List(l) => Type::Slice(Arc::new(l.elem.clone())),
            Value::Map(m) => Type::Map(Arc::new(m.elem.clone())),
            Value::Object(o) => Type::Named(o.type_name().into()),
        }
    }

    /// The Go type name as `%T` prints it: `float64`, `[]interface {}`,
    /// `map[string]interface {}`; `<nil>` for nil.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".to_string(),
            Value::Object(o) => o.type_name().into_owned(),
            other => other.go_type().to_string(),
        }
    }

    /// The Go kind as `reflect.Kind` prints it (`invalid` for nil).
    pub fn kind(&self) -> Kind {
        match self {
            Value::Nil => Kind::Invalid,
            Value::Object(o) => o.kind(),
            other => other.go_type().kind(),
        }
    }

    /// Go's truth for `if`, `with`, `and`, `or` and `not`: false for nil, `false`, zero numbers
    /// and empty strings, slices and maps; true for everything else.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(n, _) => *n != 0,
            Value::Uint(n, _) => *n != 0,
            Value::Float(f, _) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l) => !l.items.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Object(o) => {
                if let Some(c) = (&**o as &dyn Any).downcast_ref::<Complex>() {
                    return c.re != 0.0 || c.im != 0.0;
                }
                match o.underlying() {
                    Some(inner) => inner.is_true(),
                    None => !o.is_nil(),
                }
            }
        }
    }

    /// The string inside a `string` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer inside any signed or unsigned integer value (unsigned values above
    /// `i64::MAX` wrap, as Go's `int64(u)` does).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(n, _) => Some(*n),
            Value::Uint(n, _) => Some(*n as i64),
            _ => None,
        }
    }

    /// The number inside a `float32` or `float64` value.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f, _) => Some(*f),
            _ => None,
        }
    }

    /// The boolean inside a `bool` value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The elements of a slice (or of a named slice type's underlying slice).
    pub fn as_list(&self) -> Option<Arc<List>> {
        match self {
            Value::List(l) => Some(l.clone()),
            Value::Object(o) => o.underlying().and_then(|u| u.as_list()),
            _ => None,
        }
    }

    /// The map inside a map value (or a named map type's underlying map).
    pub fn as_map(&self) -> Option<Arc<Map>> {
        match self {
            Value::Map(m) => Some(m.clone()),
            Value::Object(o) => o.underlying().and_then(|u| u.as_map()),
            _ => None,
        }
    }

    /// Whether this is Go's nil interface.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Converts JSON as Go's `encoding/json` decodes it into an `interface{}` (and as Helm's
    /// values arrive through `sigs.k8s.io/yaml`): objects become `map[string]interface{}`, arrays
    /// `[]interface{}`, and every number a `float64`.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::float(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::string(s.as_str()),
            serde_json::Value::Array(items) => {
                Value::list(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(entries) => Value::map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}({})",
            self.type_name(),
            crate::fmt::sprint(std::slice::from_ref(self))
        )
    }
}

/// Go's `%v` of the value, as `{{ . }}` prints it.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::fmt::sprint(std::slice::from_ref(self)))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::string(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::string(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl Map {
    /// A map with these entries and element type.
    pub fn new(entries: BTreeMap<String, Value>, elem: Type) -> Map {
        Map {
            entries: RwLock::new(entries),
            elem,
        }
    }

    /// The element type (`interface {}` for `map[string]interface{}`).
    pub fn elem(&self) -> &Type {
        &self.elem
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.read().get(key).cloned()
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.read().contains_key(key)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Sets `key` (Sprig's `set`); every alias of the map sees the change.
    pub fn insert(&self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.write().insert(key.into(), value)
    }

    /// Removes `key` (Sprig's `unset`).
    pub fn remove(&self, key: &str) -> Option<Value> {
        self.write().remove(key)
    }

    /// The entries in sorted key order, copied out so that the caller may run template code
    /// (which may change this map) while going through them. Cheap: values are reference counted.
    pub fn snapshot(&self) -> Vec<(String, Value)> {
        self.read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The keys in sorted order.
    pub fn keys(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// A new, independent map with the same entries (values shared, not deep-copied).
    pub fn shallow_copy(&self) -> Map {
        Map::new(self.read().clone(), self.elem.clone())
    }

    /// Read access to the entries. Do not call template code while holding it.
    pub fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Value>> {
        // A poisoned lock means a panic elsewhere left the map half-written; its entries are
        // still a valid map, so keep going rather than turning one panic into two.
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the entries. Do not call template code while holding it.
    pub fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Value>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Values a template builds can nest as deep as its budget allows (`$l = list $l` in a loop);
/// dropping them recursively would overflow the stack, so containers are taken apart with an
/// explicit work list instead.
fn drop_iteratively(mut pending: Vec<Value>) {
    while let Some(value) = pending.pop() {
        match value {
            Value::List(list) => {
                if let Ok(mut list) = Arc::try_unwrap(list) {
                    pending.append(&mut list.items);
                }
            }
            Value::Map(map) => {
                if let Ok(mut map) = Arc::try_unwrap(map) {
                    let entries = map.entries.get_mut().unwrap_or_else(|e| e.into_inner());
                    pending.extend(std::mem::take(entries).into_values());
                }
            }
            _ => {}
        }
    }
}

impl Drop for List {
    fn drop(&mut self) {
        if self
            .items
            .iter()
            .any(|v| matches!(v, Value::List(_) | Value::Map(_)))
        {
            drop_iteratively(std::mem::take(&mut self.items));
        }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        let entries = self.entries.get_mut().unwrap_or_else(|e| e.into_inner());
        if entries
            .values()
            .any(|v| matches!(v, Value::List(_) | Value::Map(_)))
        {
            drop_iteratively(std::mem::take(entries).into_values().collect());
        }
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.read().iter()).finish()
    }
}

impl Type {
    /// `[]interface {}`.
    pub fn interface_slice() -> Type {
        Type::Slice(Arc::new(Type::Interface))
    }

    /// `[]string`.
    pub fn string_slice() -> Type {
        Type::Slice(Arc::new(Type::String))
    }

    /// `map[string]interface {}`.
    pub fn interface_map() -> Type {
        Type::Map(Arc::new(Type::Interface))
    }

    /// `[]byte`.
    pub fn bytes() -> Type {
        Type::Slice(Arc::new(Type::Uint(UintKind::Uint8)))
    }

    /// `int`.
    pub fn int() -> Type {
        Type::Int(IntKind::Int)
    }

    /// `int64`.
    pub fn int64() -> Type {
        Type::Int(IntKind::Int64)
    }

    /// `float64`.
    pub fn float64() -> Type {
        Type::Float(FloatKind::Float64)
    }

    /// The kind of values of this type.
    pub fn kind(&self) -> Kind {
        match self {
            Type::Interface => Kind::Interface,
            Type::Bool => Kind::Bool,
            Type::Int(k) => match k {
                IntKind::Int => Kind::Int,
                IntKind::Int8 => Kind::Int8,
                IntKind::Int16 => Kind::Int16,
                IntKind::Int32 => Kind::Int32,
                IntKind::Int64 => Kind::Int64,
            },
            Type::Uint(k) => match k {
                UintKind::Uint => Kind::Uint,
                UintKind::Uint8 => Kind::Uint8,
                UintKind::Uint16 => Kind::Uint16,
                UintKind::Uint32 => Kind::Uint32,
                UintKind::Uint64 => Kind::Uint64,
                UintKind::Uintptr => Kind::Uintptr,
            },
            Type::Float(FloatKind::Float32) => Kind::Float32,
            Type::Float(FloatKind::Float64) => Kind::Float64,
            Type::String => Kind::String,
            Type::Slice(_) => Kind::Slice,
            Type::Map(_) => Kind::Map,
            Type::Named(name) if name.starts_with('*') => Kind::Ptr,
            Type::Named(_) => Kind::Struct,
        }
    }

    /// Whether Go's nil can stand for a value of this type (interfaces, slices, maps, pointers).
    pub fn can_be_nil(&self) -> bool {
        matches!(
            self.kind(),
            Kind::Interface | Kind::Slice | Kind::Map | Kind::Ptr | Kind::Func
        )
    }

    /// Go's zero value of this type: what `index` gives for a missing key and what
    /// `missingkey=zero` gives for a missing map entry. Nil slices and maps are empty ones.
    pub fn zero(&self) -> Value {
        match self {
            Type::Interface | Type::Named(_) => Value::Nil,
            Type::Bool => Value::Bool(false),
            Type::Int(k) => Value::Int(0, *k),
            Type::Uint(k) => Value::Uint(0, *k),
            Type::Float(k) => Value::Float(0.0, *k),
            Type::String => Value::string(""),
            Type::Slice(elem) if **elem == Type::Uint(UintKind::Uint8) => Value::bytes(Vec::new()),
            Type::Slice(elem) => Value::typed_list(Vec::new(), (**elem).clone()),
            Type::Map(elem) => Value::typed_map(BTreeMap::new(), (**elem).clone()),
        }
    }
}

/// Go's spelling of the type, as `%T` prints it.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Interface => f.write_str("interface {}"),
            Type::Bool => f.write_str("bool"),
            Type::Int(_) | Type::Uint(_) | Type::Float(_) => f.write_str(self.kind().name()),
            Type::String => f.write_str("string"),
            Type::Slice(elem) => write!(f, "[]{elem}"),
            Type::Map(elem) => write!(f, "map[string]{elem}"),
            Type::Named(name) => f.write_str(name),
        }
    }
}

impl Kind {
    /// The name as Go's `reflect.Kind.String` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Invalid => "invalid",
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::Int8 => "int8",
            Kind::Int16 => "int16",
            Kind::Int32 => "int32",
            Kind::Int64 => "int64",
            Kind::Uint => "uint",
            Kind::Uint8 => "uint8",
            Kind::Uint16 => "uint16",
            Kind::Uint32 => "uint32",
            Kind::Uint64 => "uint64",
            Kind::Uintptr => "uintptr",
            Kind::Float32 => "float32",
            Kind::Float64 => "float64",
            Kind::Complex128 => "complex128",
            Kind::String => "string",
            Kind::Slice => "slice",
            Kind::Map => "map",
            Kind::Struct => "struct",
            Kind::Ptr => "ptr",
            Kind::Func => "func",
            Kind::Interface => "interface",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Go `complex128`, which templates meet only as complex constants (`{{ 1+2i }}`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Complex {
    pub re: f64,
    pub im: f64,
}

impl Object for Complex {
    fn type_name(&self) -> Cow<'_, str> {
        Cow::Borrowed("complex128")
    }

    fn kind(&self) -> Kind {
        Kind::Complex128
    }

    fn equals(&self, other: &dyn Object) -> bool {
        (other as &dyn Any).downcast_ref::<Complex>() == Some(self)
    }
}
