//! The cover photo and the short video: checked with the server's rules, uploaded straight to
//! the blob store with a presigned form, then attached to the event. The upload goes through
//! XMLHttpRequest because fetch reports no upload progress.

use leptos::prelude::*;
use slsplay_rules::MediaKind;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{File, FormData, HtmlInputElement, ProgressEvent, Url, XmlHttpRequest};

use crate::graphql::{self, AttachMedia, PresignUpload, Unavailable, user_errors};
use crate::session::Auth;

/// One file's upload, kept across the page's refreshes.
#[derive(Clone, Copy)]
pub struct Upload {
    /// Sent so far, 0 to 1, while the file is on its way.
    sent: RwSignal<Option<f64>>,
    /// The chosen file, shown at once (an object URL); the read model trails the attach.
    preview: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    done: RwSignal<bool>,
}

impl Upload {
    pub fn new() -> Self {
        Self {
            sent: RwSignal::new(None),
            preview: RwSignal::new(None),
            error: RwSignal::new(None),
            done: RwSignal::new(false),
        }
    }

    pub fn busy(&self) -> bool {
        self.sent.with_untracked(Option::is_some)
    }

    fn forget_preview(&self) {
        if let Some(old) = self.preview.get_untracked() {
            let _ = Url::revoke_object_url(&old);
        }
        self.preview.set(None);
    }

    fn show(&self, file: &File) {
        let url = Url::create_object_url_with_blob(file).ok();
        if let Some(old) = self.preview.get_untracked() {
            let _ = Url::revoke_object_url(&old);
        }
        self.preview.set(url);
    }
}

struct Kind {
    kind: MediaKind,
    id: &'static str,
    label: &'static str,
    hint: &'static str,
}

const PHOTO: Kind = Kind {
    kind: MediaKind::Photo,
    id: "cover-photo",
    label: "Cover photo",
    hint: "JPEG, PNG or WebP, up to 10 MB. Guests see it on their invitation.",
};

const VIDEO: Kind = Kind {
    kind: MediaKind::Video,
    id: "video",
    label: "Short video",
    hint: "MP4 or WebM, up to 200 MB.",
};

/// The event's media section: each kind with what it shows now and a way to replace it.
#[component]
pub fn Media(
    event_id: String,
    cover_photo_url: Option<String>,
    video_url: Option<String>,
    photo: Upload,
    video: Upload,
    refresh: Callback<()>,
) -> impl IntoView {
    let event_id = StoredValue::new(event_id);
    view! {
        <section class="media" aria-labelledby="media-heading">
            <h2 id="media-heading">"Photo and video"</h2>
            <MediaField kind=PHOTO event_id=event_id.get_value() current=cover_photo_url upload=photo refresh/>
            <MediaField kind=VIDEO event_id=event_id.get_value() current=video_url upload=video refresh/>
        </section>
    }
}

#[component]
fn MediaField(
    kind: Kind,
    event_id: String,
    current: Option<String>,
    upload: Upload,
    refresh: Callback<()>,
) -> impl IntoView {
    let auth = Auth::get();
    let Kind {
        kind,
        id,
        label,
        hint,
    } = kind;
    let event_id = StoredValue::new(event_id);
    let start = Action::new_local(move |file: &File| {
        let file = file.clone();
        async move {
            let result = send(auth, event_id.get_value(), kind, &file, upload).await;
            upload.sent.set(None);
            match result {
                Ok(()) => {
                    upload.done.set(true);
                    refresh.run(());
                }
                Err(why) => {
                    // What was not attached is not shown as if it were.
                    upload.forget_preview();
                    upload.error.set(Some(why));
                }
            }
        }
    });
    let chosen = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        input.set_value("");
        upload.done.set(false);
        let checked = slsplay_rules::content_type(kind, &file.type_())
            .and_then(|_| slsplay_rules::media_size(kind, file.size() as u64));
        match checked {
            Ok(_) => {
                upload.error.set(None);
                upload.show(&file);
                upload.sent.set(Some(0.0));
                start.dispatch(file);
            }
            Err(why) => upload.error.set(Some(format!("{}: {why}", file.name()))),
        }
    };
    let current = StoredValue::new(current);
    let shown = move || upload.preview.get().or_else(|| current.get_value());
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = format!("{hint_id} {error_id}");
    let accept = kind.allowed_content_types().join(",");
    view! {
        <div class="media-field">
            <h3>{label}</h3>
            {move || shown().map(|src| match kind {
                MediaKind::Photo => view! { <img class="cover" src=src alt="The cover photo"/> }.into_any(),
                MediaKind::Video => view! { <video class="cover" src=src controls=true preload="metadata"></video> }.into_any(),
            })}
            // The input stays in the focus order; its label is what shows, as a button.
            <input id=id class="visually-hidden" type="file" accept=accept aria-describedby=described
                disabled=move || upload.sent.get().is_some() on:change=chosen/>
            <label for=id class="button">{move || if shown().is_some() { format!("Replace the {}", label.to_lowercase()) } else { format!("Choose a {}", label.to_lowercase()) }}</label>
            <p class="hint" id=hint_id>{hint}</p>
            {move || upload.sent.get().map(|sent| {
                let percent = (sent * 100.0).round();
                view! {
                    <progress max="100" value=percent aria-label=format!("Uploading the {}", label.to_lowercase())></progress>
                    <span class="muted" aria-hidden="true">{format!(" {percent}%")}</span>
                }
            })}
            <p class="ok" role="status">{move || upload.done.get().then_some("Uploaded. Guests see it now.")}</p>
            <p class="field-error" id=error_id role="alert">{move || upload.error.get()}</p>
        </div>
    }
}

/// Presign, upload with progress, attach; the error says which step failed.
async fn send(
    auth: Auth,
    event_id: String,
    kind: MediaKind,
    file: &File,
    upload: Upload,
) -> Result<(), String> {
    let unavailable = |Unavailable(why)| why;
    let (presign_kind, attach_kind) = match kind {
        MediaKind::Photo => (
            graphql::presign_upload::MediaKind::PHOTO,
            graphql::attach_media::MediaKind::PHOTO,
        ),
        MediaKind::Video => (
            graphql::presign_upload::MediaKind::VIDEO,
            graphql::attach_media::MediaKind::VIDEO,
        ),
    };
    let data = graphql::as_viewer::<PresignUpload>(
        auth,
        graphql::presign_upload::Variables {
            event_id: event_id.clone(),
            kind: presign_kind,
            content_type: file.type_(),
        },
    )
    .await
    .map_err(unavailable)?;
    if let Some((_, message)) = user_errors!(data.presign_upload).next() {
        return Err(message.to_owned());
    }
    let form = data
        .presign_upload
        .upload
        .ok_or("the platform sent no upload form")?;
    let fields: Vec<(String, String)> = form.fields.into_iter().map(|f| (f.name, f.value)).collect();
    post_with_progress(&form.url, &fields, file, move |sent| upload.sent.set(Some(sent))).await?;
    let data = graphql::as_viewer::<AttachMedia>(
        auth,
        graphql::attach_media::Variables {
            event_id,
            kind: attach_kind,
            object_key: form.object_key,
        },
    )
    .await
    .map_err(unavailable)?;
    match user_errors!(data.attach_media).next() {
        Some((_, message)) => Err(message.to_owned()),
        None => Ok(()),
    }
}

/// POSTs `fields` then `file` as multipart/form-data (a presigned form upload), calling
/// `progress` with the share sent so far.
async fn post_with_progress(
    url: &str,
    fields: &[(String, String)],
    file: &File,
    progress: impl Fn(f64) + 'static,
) -> Result<(), String> {
    let failed = |_| "the upload could not start".to_owned();
    let form = FormData::new().map_err(failed)?;
    for (name, value) in fields {
        form.append_with_str(name, value).map_err(failed)?;
    }
    form.append_with_blob_and_filename("file", file, &file.name())
        .map_err(failed)?;
    let xhr = XmlHttpRequest::new().map_err(failed)?;
    xhr.open("POST", url).map_err(failed)?;
    let on_progress = Closure::<dyn Fn(ProgressEvent)>::new(move |e: ProgressEvent| {
        if e.length_computable() && e.total() > 0.0 {
            progress(e.loaded() / e.total());
        }
    });
    xhr.upload()
        .map_err(failed)?
        .set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    // Settles when the request ends either way; the status tells which.
    let ended = js_sys::Promise::new(&mut |resolve, _| {
        xhr.set_onloadend(Some(&resolve));
    });
    xhr.send_with_opt_form_data(Some(&form)).map_err(failed)?;
    let _ = wasm_bindgen_futures::JsFuture::from(ended).await;
    drop(on_progress);
    match xhr.status().unwrap_or(0) {
        200..=299 => Ok(()),
        0 => Err("the upload broke off; check your connection and try again".to_owned()),
        413 => Err("the file is larger than the upload allows".to_owned()),
        status => Err(format!("the blob store refused the upload ({status}); try again")),
    }
}
