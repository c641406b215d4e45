//! A typed row bound to a statement's parameters in its table's column order, straight from
//! serde: a rebuild's commits write millions of rows, and building a JSON map (and then owned
//! SQL values) per row between the struct and the statement cost a sixth of the applying
//! thread.

use std::fmt;

use rusqlite::Statement;
use serde::Serialize;
use serde::ser::{self, Impossible};

use crate::schema::Table;

#[derive(Debug)]
pub enum BindError {
    /// The model does not serialize as its table's flat row: a field out of the columns'
    /// order, a missing column, or a value that is not a scalar. A bug of its declaration.
    NotARow(String),
    Sqlite(rusqlite::Error),
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotARow(why) => f.write_str(why),
            Self::Sqlite(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BindError {}

impl ser::Error for BindError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::NotARow(msg.to_string())
    }
}

/// Binds `model`'s columns to parameters 1..=n of `statement`, in `table.columns` order.
pub fn bind_columns<M: Serialize>(
    table: &Table,
    model: &M,
    statement: &mut Statement<'_>,
) -> Result<(), BindError> {
    let mut row = RowSerializer {
        table,
        statement,
        bound: 0,
    };
    model.serialize(&mut row)?;
    if row.bound != table.columns.len() {
        return Err(BindError::NotARow(format!(
            "a row of `{}` has {} of its {} columns",
            table.name,
            row.bound,
            table.columns.len()
        )));
    }
    Ok(())
}

fn not_a(what: &str, table: &Table) -> BindError {
    BindError::NotARow(format!(
        "a row of `{}` must be a struct of scalars, not {what}",
        table.name
    ))
}

struct RowSerializer<'r, 's> {
    table: &'r Table,
    statement: &'r mut Statement<'s>,
    bound: usize,
}

impl ser::SerializeStruct for &mut RowSerializer<'_, '_> {
    type Ok = ();
    type Error = BindError;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), BindError> {
        match self.table.columns.get(self.bound) {
            Some(column) if column.name == name => {}
            _ => {
                return Err(BindError::NotARow(format!(
                    "field `{name}` of `{}` is not its column {}",
                    self.table.name,
                    self.bound + 1
                )));
            }
        }
        self.bound += 1;
        value.serialize(Parameter {
            statement: &mut *self.statement,
            index: self.bound,
        })
    }

    fn end(self) -> Result<(), BindError> {
        Ok(())
    }
}

/// Serializer methods that refuse what they are given, with `self.refused($what)`.
macro_rules! refuse {
    ($($method:ident ( $($arg:ty),* ) -> $ok:ty, $what:literal;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ok, BindError> {
            Err(self.refused($what))
        })*
    };
}

impl RowSerializer<'_, '_> {
    /// Everything but a struct is refused.
    fn refused(&self, what: &str) -> BindError {
        not_a(what, self.table)
    }
}

impl<'a, 'r, 's> ser::Serializer for &'a mut RowSerializer<'r, 's> {
    type Ok = ();
    type Error = BindError;
    type SerializeSeq = Impossible<(), BindError>;
    type SerializeTuple = Impossible<(), BindError>;
    type SerializeTupleStruct = Impossible<(), BindError>;
    type SerializeTupleVariant = Impossible<(), BindError>;
    type SerializeMap = Impossible<(), BindError>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), BindError>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, BindError> {
        Ok(self)
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), BindError> {
        Err(self.refused("an option"))
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), BindError> {
        Err(self.refused("a newtype"))
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), BindError> {
        Err(self.refused("an enum"))
    }

    refuse! {
        serialize_bool(bool) -> (), "a boolean";
        serialize_i8(i8) -> (), "a number";
        serialize_i16(i16) -> (), "a number";
        serialize_i32(i32) -> (), "a number";
        serialize_i64(i64) -> (), "a number";
        serialize_u8(u8) -> (), "a number";
        serialize_u16(u16) -> (), "a number";
        serialize_u32(u32) -> (), "a number";
        serialize_u64(u64) -> (), "a number";
        serialize_f32(f32) -> (), "a number";
        serialize_f64(f64) -> (), "a number";
        serialize_char(char) -> (), "a character";
        serialize_str(&str) -> (), "a string";
        serialize_bytes(&[u8]) -> (), "bytes";
        serialize_none() -> (), "an option";
        serialize_unit() -> (), "a unit";
        serialize_unit_struct(&'static str) -> (), "a unit";
        serialize_unit_variant(&'static str, u32, &'static str) -> (), "an enum";
        serialize_seq(Option<usize>) -> Self::SerializeSeq, "a sequence";
        serialize_tuple(usize) -> Self::SerializeTuple, "a tuple";
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct, "a tuple";
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant, "an enum";
        serialize_map(Option<usize>) -> Self::SerializeMap, "a map";
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant, "an enum";
    }
}

/// One column's value, bound as the value serde_json would have held: integers, text (a
/// status as its renamed variant), or NULL.
struct Parameter<'r, 's> {
    statement: &'r mut Statement<'s>,
    index: usize,
}

impl Parameter<'_, '_> {
    fn bind<T: rusqlite::ToSql>(self, value: T) -> Result<(), BindError> {
        self.statement
            .raw_bind_parameter(self.index, value)
            .map_err(BindError::Sqlite)
    }
}

fn not_scalar(what: &str) -> BindError {
    BindError::NotARow(format!("a column holds a scalar, not {what}"))
}

impl Parameter<'_, '_> {
    /// Only scalars are columns.
    fn refused(&self, what: &str) -> BindError {
        not_scalar(what)
    }
}

/// Serializer methods that bind their value as an SQLite integer.
macro_rules! bind_as_integer {
    ($($method:ident ( $arg:ty );)*) => {
        $(fn $method(self, v: $arg) -> Result<(), BindError> {
            self.bind(i64::from(v))
        })*
    };
}

impl ser::Serializer for Parameter<'_, '_> {
    type Ok = ();
    type Error = BindError;
    type SerializeSeq = Impossible<(), BindError>;
    type SerializeTuple = Impossible<(), BindError>;
    type SerializeTupleStruct = Impossible<(), BindError>;
    type SerializeTupleVariant = Impossible<(), BindError>;
    type SerializeMap = Impossible<(), BindError>;
    type SerializeStruct = Impossible<(), BindError>;
    type SerializeStructVariant = Impossible<(), BindError>;

    bind_as_integer! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
    }
    fn serialize_u64(self, v: u64) -> Result<(), BindError> {
        let v = i64::try_from(v).map_err(|_| not_scalar("an integer beyond SQLite's"))?;
        self.bind(v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), BindError> {
        self.bind(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), BindError> {
        self.bind(v)
    }
    fn serialize_char(self, v: char) -> Result<(), BindError> {
        self.bind(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<(), BindError> {
        self.bind(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), BindError> {
        self.bind(v)
    }
    fn serialize_none(self) -> Result<(), BindError> {
        self.bind(rusqlite::types::Null)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), BindError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), BindError> {
        self.bind(rusqlite::types::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), BindError> {
        self.bind(rusqlite::types::Null)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), BindError> {
        self.bind(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), BindError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), BindError> {
        Err(self.refused("an enum with data"))
    }
    refuse! {
        serialize_seq(Option<usize>) -> Self::SerializeSeq, "a sequence";
        serialize_tuple(usize) -> Self::SerializeTuple, "a tuple";
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct, "a tuple";
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant, "an enum with data";
        serialize_map(Option<usize>) -> Self::SerializeMap, "a map";
        serialize_struct(&'static str, usize) -> Self::SerializeStruct, "a struct";
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant, "an enum with data";
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_models::*;
    use crate::schema::ReadModel;
    use rusqlite::types::Value;

    /// The values a row binds, read back from `SELECT ?1, ?2, ...`.
    fn bound<M: Serialize>(table: &Table, model: &M) -> Result<Vec<Value>, BindError> {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let select: Vec<String> = (1..=table.columns.len()).map(|i| format!("?{i}")).collect();
        let mut statement = conn.prepare(&format!("SELECT {}", select.join(", "))).unwrap();
        bind_columns(table, model, &mut statement)?;
        let mut rows = statement.raw_query();
        let row = rows.next().unwrap().unwrap();
        Ok((0..table.columns.len()).map(|i| row.get(i).unwrap()).collect())
    }

    /// What the commit binds is what the JSON row (the DynamoDB adapter's and the readers'
    /// form) holds, column by column.
    fn same_as_json<M: ReadModel>(model: M) {
        let table = M::TABLE;
        let values = bound(&table, &model).unwrap_or_else(|e| panic!("{}: {e}", table.name));
        let row = model.to_row();
        let json: Vec<Value> = table
            .columns
            .iter()
            .map(|c| match &row[c.name] {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Number(n) => Value::Integer(n.as_i64().unwrap()),
                serde_json::Value::String(s) => Value::Text(s.clone()),
                other => panic!("{}.{} is {other}", table.name, c.name),
            })
            .collect();
        assert_eq!(values, json, "{}", table.name);
    }

    #[test]
    fn every_table_binds_the_values_of_its_json_row() {
        same_as_json(EventPage {
            event_id: "e".into(),
            status: EventStatus::Cancelled,
            capacity: Some(3),
            cancel_message: Some("sorry".into()),
            ..EventPage::default()
        });
        same_as_json(MeetingLink::default());
        same_as_json(GuestListEntry {
            rsvp: RsvpStatus::SeatHeld,
            payment: PaymentStatus::Due,
            hold_until: Some("2030-01-01T00:00:00Z".into()),
            ..GuestListEntry::default()
        });
        same_as_json(InvitationByEmail::default());
        same_as_json(OrganizerEvent::default());
        same_as_json(EventByStart {
            digest_sent: 1,
            hour_reminder_sent: 1,
            invited: 4,
            ..EventByStart::default()
        });
        same_as_json(SeatHold::new("e", "i", "2030-01-01T10:00:00Z"));
        same_as_json(DailyInvitationStats::default());
        same_as_json(InvitationToken::default());
        same_as_json(crate::email::outbox::OutboxMessage::default());
    }

    #[derive(Serialize)]
    struct Swapped {
        organizer: String,
        event_id: String,
    }

    #[derive(Serialize)]
    struct Short {
        event_id: String,
    }

    const TWO: Table = Table {
        name: "t",
        partition_key: "event_id",
        sort_key: None,
        columns: &[crate::schema::text("event_id"), crate::schema::text("organizer")],
    };

    #[test]
    fn a_field_out_of_column_order_is_refused_not_bound_to_the_wrong_column() {
        let swapped = Swapped {
            organizer: "o".into(),
            event_id: "e".into(),
        };
        let error = bound(&TWO, &swapped).unwrap_err();
        assert_eq!(error.to_string(), "field `organizer` of `t` is not its column 1");
    }

    #[test]
    fn a_row_missing_a_column_is_refused_not_bound_with_a_stale_value() {
        let error = bound(&TWO, &Short { event_id: "e".into() }).unwrap_err();
        assert_eq!(error.to_string(), "a row of `t` has 1 of its 2 columns");
    }
}
