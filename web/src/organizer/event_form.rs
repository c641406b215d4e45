//! Creating and editing an event: the date and time are picked in the event's time zone, with
//! the organizer's own time shown beside them; every field is checked with the server's rules
//! before sending, and the server's refusals land next to their fields too.

use leptos::prelude::*;

use crate::forms::{EventFields, EventForm, FieldErrors, amount_text};
use crate::graphql::{self, CreateEvent, ManagedEvent, Unavailable, UpdateEvent, user_errors};
use crate::pkce;
use crate::router::Location;
use crate::session::Auth;
use crate::sign_in::RequireSignIn;
use crate::time;

/// The form's text, as the inputs hold it.
#[derive(Clone, Copy)]
struct Inputs {
    title: RwSignal<String>,
    description: RwSignal<String>,
    date: RwSignal<String>,
    time: RwSignal<String>,
    zone: RwSignal<String>,
    duration: RwSignal<String>,
    capacity: RwSignal<String>,
    price: RwSignal<String>,
    currency: RwSignal<String>,
    meeting_url: RwSignal<String>,
}

impl Inputs {
    fn new() -> Self {
        Self {
            title: RwSignal::new(String::new()),
            description: RwSignal::new(String::new()),
            date: RwSignal::new(String::new()),
            time: RwSignal::new("19:00".into()),
            zone: RwSignal::new(time::own_zone().unwrap_or_else(|| "UTC".into())),
            duration: RwSignal::new("60".into()),
            capacity: RwSignal::new(String::new()),
            price: RwSignal::new(String::new()),
            currency: RwSignal::new("EUR".into()),
            meeting_url: RwSignal::new(String::new()),
        }
    }

    fn of(event: &graphql::managed_event::ManagedEventEvent) -> Self {
        let inputs = Self::new();
        let (date, at) = time::to_zone(&event.starts_at, &event.time_zone).unwrap_or_default();
        inputs.title.set(event.title.clone());
        inputs.description.set(event.description.clone());
        inputs.date.set(date);
        inputs.time.set(at);
        inputs.zone.set(event.time_zone.clone());
        inputs.duration.set(event.duration_minutes.to_string());
        inputs
            .capacity
            .set(event.capacity.map(|c| c.to_string()).unwrap_or_default());
        if let Some(price) = &event.ticket_price {
            inputs.price.set(amount_text(price.amount_minor, &price.currency));
            inputs.currency.set(price.currency.clone());
        }
        inputs
            .meeting_url
            .set(event.meeting_url.clone().unwrap_or_default());
        inputs
    }

    fn starts_at(&self) -> Option<String> {
        time::from_zone(&self.date.get(), &self.time.get(), &self.zone.get())
    }

    fn form(&self) -> EventForm {
        EventForm {
            title: self.title.get_untracked(),
            description: self.description.get_untracked(),
            starts_at: self.starts_at(),
            time_zone: self.zone.get_untracked(),
            duration_minutes: self.duration.get_untracked(),
            capacity: self.capacity.get_untracked(),
            price: self.price.get_untracked(),
            currency: self.currency.get_untracked(),
            meeting_url: self.meeting_url.get_untracked(),
        }
    }
}

/// `/my/events/new`.
#[component]
pub fn NewEventRoute() -> impl IntoView {
    view! { <RequireSignIn><NewEvent/></RequireSignIn> }
}

#[component]
fn NewEvent() -> impl IntoView {
    let auth = Auth::get();
    let location = Location::get();
    // One key per form: a retried send creates the event once.
    let key = StoredValue::new(pkce::random().ok());
    let save = Action::new_local(move |fields: &EventFields| {
        let fields = fields.clone();
        async move {
            let input = graphql::create_event::CreateEventInput {
                title: fields.title,
                description: Some(fields.description),
                starts_at: fields.starts_at,
                time_zone: fields.time_zone,
                duration_minutes: fields.duration_minutes,
                capacity: fields.capacity,
                ticket_price: fields.price.map(|p| graphql::create_event::PriceInput {
                    amount_minor: p.amount_minor as i64,
                    currency: p.currency,
                }),
                meeting_url: fields.meeting_url,
            };
            let data = graphql::as_viewer::<CreateEvent>(
                auth,
                graphql::create_event::Variables {
                    input,
                    idempotency_key: key.get_value(),
                },
            )
            .await?;
            let payload = data.create_event;
            let errors = FieldErrors::from_api(user_errors!(payload));
            Ok::<_, Unavailable>((payload.event_id, errors))
        }
    });
    Effect::new(move |_| {
        if let Some(Ok((Some(event_id), errors))) = save.value().get()
            && errors.is_empty()
        {
            location.navigate(&format!("/my/events/{event_id}"), false);
        }
    });
    let server = Signal::derive(move || match save.value().get() {
        Some(Ok((_, errors))) => Ok(errors),
        Some(Err(Unavailable(why))) => Err(why),
        None => Ok(FieldErrors::default()),
    });
    view! {
        <h1>"New event"</h1>
        <p class="muted">"It stays a draft, visible to you only, until you publish it."</p>
        <EventFormView inputs=Inputs::new() submit="Save draft" pending=save.pending() server
            on_valid=Callback::new(move |fields| { save.dispatch(fields); })/>
    }
}

/// `/my/events/:event_id/edit`: change the details, reschedule.
#[component]
pub fn EditEventRoute(event_id: String) -> impl IntoView {
    view! { <RequireSignIn><EditEvent event_id=event_id.clone()/></RequireSignIn> }
}

#[component]
fn EditEvent(event_id: String) -> impl IntoView {
    let auth = Auth::get();
    let event_id = StoredValue::new(event_id);
    let event_id = move || event_id.get_value();
    let event = LocalResource::new(move || {
        let event_id = event_id();
        async move {
            let data = graphql::as_viewer::<ManagedEvent>(
                auth,
                graphql::managed_event::Variables {
                    event_id,
                    after: None,
                },
            )
            .await?;
            Ok::<_, Unavailable>(data.event)
        }
    });
    let location = Location::get();
    let save = Action::new_local(move |(fields, version): &(EventFields, i64)| {
        let (fields, version, event_id) = (fields.clone(), *version, event_id());
        async move {
            let input = graphql::update_event::UpdateEventInput {
                title: Some(fields.title),
                description: Some(fields.description),
                starts_at: Some(fields.starts_at),
                time_zone: Some(fields.time_zone),
                duration_minutes: Some(fields.duration_minutes),
                capacity: fields.capacity,
                ticket_price: fields.price.map(|p| graphql::update_event::PriceInput {
                    amount_minor: p.amount_minor as i64,
                    currency: p.currency,
                }),
                meeting_url: Some(fields.meeting_url),
            };
            let data = graphql::as_viewer::<UpdateEvent>(
                auth,
                graphql::update_event::Variables {
                    event_id,
                    input,
                    expected_version: Some(version),
                },
            )
            .await?;
            Ok::<_, Unavailable>(FieldErrors::from_api(user_errors!(data.update_event)))
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(errors)) = save.value().get()
            && errors.is_empty()
        {
            location.navigate(&format!("/my/events/{}", event_id()), false);
        }
    });
    let server = Signal::derive(move || match save.value().get() {
        Some(Ok(errors)) => Ok(errors),
        Some(Err(Unavailable(why))) => Err(why),
        None => Ok(FieldErrors::default()),
    });
    view! {
        <h1>"Edit event"</h1>
        <Transition fallback=|| view! { <p class="status" role="status">"Loading the event…"</p> }>
            {move || event.get().map(|loaded| match loaded {
                Ok(Some(event)) if event.viewer_is_organizer => {
                    let version = event.version;
                    view! {
                        <EventFormView inputs=Inputs::of(&event) submit="Save changes" pending=save.pending() server
                            on_valid=Callback::new(move |fields| { save.dispatch((fields, version)); })/>
                    }.into_any()
                }
                Ok(_) => view! { <p>"This event does not exist, or you do not organize it."</p> }.into_any(),
                Err(Unavailable(why)) => view! { <p class="error" role="alert">{why}</p> }.into_any(),
            })}
        </Transition>
    }
}

/// A labelled field with its error below it, tied together for screen readers.
#[component]
fn Field(
    id: &'static str,
    label: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    error: Signal<Option<String>>,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=id>{label}</label>
            {hint.map(|h| view! { <p class="hint" id=format!("{id}-hint")>{h}</p> })}
            {children()}
            <p class="field-error" id=format!("{id}-error") aria-live="polite">{move || error.get()}</p>
        </div>
    }
}

#[component]
fn EventFormView(
    inputs: Inputs,
    submit: &'static str,
    pending: Memo<bool>,
    /// The server's refusals of the last send, or why it could not answer.
    server: Signal<Result<FieldErrors, String>>,
    on_valid: Callback<EventFields>,
) -> impl IntoView {
    let local = RwSignal::new(FieldErrors::default());
    let error = move |field: &'static str| {
        Signal::derive(move || {
            local
                .with(|l| l.get(field))
                .or_else(|| server.with(|s| s.as_ref().ok().and_then(|s| s.get(field))))
        })
    };
    let invalid = move |field: &'static str| move || error(field).get().is_some();
    let zones = time::zones();
    let zone_options = zones
        .into_iter()
        .map(|z| {
            let selected = z == inputs.zone.get_untracked();
            view! { <option value=z.clone() selected=selected>{z.replace('_', " ")}</option> }
        })
        .collect_view();
    let currencies = slsplay_rules::ISO_4217
        .iter()
        .map(|c| view! { <option value=*c selected=*c == inputs.currency.get_untracked()>{*c}</option> })
        .collect_view();
    let own_time = move || {
        let own = time::own_zone();
        let at = inputs.starts_at()?;
        (own.as_deref() != Some(inputs.zone.get().as_str()))
            .then(|| format!("Your time: {}", time::when(&at, None)))
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = inputs.form();
        let starts_ms = form.starts_at.as_deref().map_or(f64::NAN, time::epoch_ms);
        match form.check(js_sys::Date::now(), starts_ms) {
            Ok(fields) => {
                local.set(FieldErrors::default());
                on_valid.run(fields);
            }
            Err(errors) => {
                local.set(errors);
                // Focus moves to the first field to fix.
                if let Some(field) = local.with_untracked(FieldErrors::first_field) {
                    let id = match field.as_str() {
                        "startsAt" => "date".to_owned(),
                        "ticketPrice.amountMinor" => "price".to_owned(),
                        "ticketPrice.currency" => "currency".to_owned(),
                        other => other.to_owned(),
                    };
                    if let Some(input) = document().get_element_by_id(&id) {
                        use wasm_bindgen::JsCast;
                        if let Ok(input) = input.dyn_into::<web_sys::HtmlElement>() {
                            let _ = input.focus();
                        }
                    }
                }
            }
        }
    };
    view! {
        <form class="event-form" on:submit=on_submit novalidate>
            <Field id="title" label="Title" error=error("title")>
                <input id="title" type="text" maxlength="120" required bind:value=inputs.title
                    aria-invalid=move || invalid("title")().to_string() aria-describedby="title-error"/>
            </Field>
            <Field id="description" label="Description" hint="What guests should know: who it is for, what happens." error=error("description")>
                <textarea id="description" rows="4" maxlength="2000" bind:value=inputs.description
                    aria-describedby="description-hint description-error"></textarea>
            </Field>
            <fieldset class="when-fields">
                <legend>"Starts"</legend>
                <div class="row">
                    <Field id="date" label="Date" error=error("startsAt")>
                        <input id="date" type="date" required bind:value=inputs.date
                            aria-invalid=move || invalid("startsAt")().to_string() aria-describedby="date-error"/>
                    </Field>
                    <Field id="time" label="Time" error=Signal::derive(|| None)>
                        <input id="time" type="time" required bind:value=inputs.time/>
                    </Field>
                </div>
                <Field id="timeZone" label="Time zone" error=error("timeZone")>
                    <select id="timeZone" on:change=move |ev| inputs.zone.set(event_target_value(&ev))>{zone_options}</select>
                </Field>
                <p class="muted own-time" aria-live="polite">{own_time}</p>
            </fieldset>
            <div class="row">
                <Field id="durationMinutes" label="Duration (minutes)" error=error("durationMinutes")>
                    <input id="durationMinutes" type="number" inputmode="numeric" min="5" max="1440" bind:value=inputs.duration
                        aria-invalid=move || invalid("durationMinutes")().to_string() aria-describedby="durationMinutes-error"/>
                </Field>
                <Field id="capacity" label="Seats" hint="Empty: no limit." error=error("capacity")>
                    <input id="capacity" type="number" inputmode="numeric" min="1" bind:value=inputs.capacity
                        aria-invalid=move || invalid("capacity")().to_string() aria-describedby="capacity-hint capacity-error"/>
                </Field>
            </div>
            <div class="row">
                <Field id="price" label="Ticket price" hint="Empty: free. Tickets are not refundable." error=error("ticketPrice.amountMinor")>
                    <input id="price" type="text" inputmode="decimal" bind:value=inputs.price
                        aria-invalid=move || invalid("ticketPrice.amountMinor")().to_string() aria-describedby="price-hint price-error"/>
                </Field>
                <Field id="currency" label="Currency" error=error("ticketPrice.currency")>
                    <select id="currency" on:change=move |ev| inputs.currency.set(event_target_value(&ev))>{currencies}</select>
                </Field>
            </div>
            <Field id="meetingUrl" label="Meeting link" hint="Only confirmed guests see it." error=error("meetingUrl")>
                <input id="meetingUrl" type="url" inputmode="url" placeholder="https://" bind:value=inputs.meeting_url
                    aria-invalid=move || invalid("meetingUrl")().to_string() aria-describedby="meetingUrl-hint meetingUrl-error"/>
            </Field>
            {move || {
                let general = match server.get() {
                    Err(why) => Some(why),
                    Ok(errors) => errors.get(""),
                };
                general.map(|why| view! { <p class="error" role="alert">{why}</p> })
            }}
            <div class="actions">
                <button type="submit" class="primary" disabled=move || pending.get()>
                    {move || if pending.get() { "Saving…" } else { submit }}
                </button>
            </div>
        </form>
    }
}
