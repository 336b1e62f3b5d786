//! A body that streams through unchanged while keeping a copy of its first
//! bytes, handed over when the stream ends (or is dropped half-way). The
//! pass-through uses it to record exchanges without buffering them.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};

type OnEnd = Box<dyn FnOnce(Bytes, bool) + Send + Sync>;

pin_project_lite::pin_project! {
    pub struct Tee<B> {
        #[pin]
        inner: B,
        copy: BytesMut,
        cap: usize,
        truncated: bool,
        // The inner body said it has no more: a drop now (hyper does not
        // poll past `is_end_stream`) still saw it whole.
        ended: bool,
        on_end: Option<OnEnd>,
    }

    impl<B> PinnedDrop for Tee<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(f) = this.on_end.take() {
                f(std::mem::take(this.copy).freeze(), *this.truncated || !*this.ended);
            }
        }
    }
}

impl<B: Body> Tee<B> {
    /// `on_end(copy, truncated)` runs once: at the end of the stream, or on
    /// drop (then `truncated` is true unless the stream had ended).
    pub fn new(inner: B, cap: usize, on_end: impl FnOnce(Bytes, bool) + Send + Sync + 'static) -> Self {
        Tee {
            ended: inner.is_end_stream(),
            inner,
            copy: BytesMut::new(),
            cap,
            truncated: false,
            on_end: Some(Box::new(on_end)),
        }
    }
}

impl<B: Body<Data = Bytes>> Body for Tee<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let mut this = self.project();
        let polled = this.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let room = this.cap.saturating_sub(this.copy.len());
                    if data.len() > room {
                        *this.truncated = true;
                    }
                    this.copy.extend_from_slice(&data[..data.len().min(room)]);
                }
                *this.ended = this.inner.is_end_stream();
            }
            Poll::Ready(None) => {
                if let Some(f) = this.on_end.take() {
                    f(std::mem::take(this.copy).freeze(), *this.truncated);
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn copies_while_streaming_and_reports_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let tee = Tee::new(Full::new(Bytes::from_static(b"hello world")), 5, move |b, truncated| {
            s.lock().unwrap().push((b, truncated));
        });
        let out = tee.collect().await.unwrap().to_bytes();
        assert_eq!(out, Bytes::from_static(b"hello world"), "the stream is unchanged");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0], (Bytes::from_static(b"hello"), true));
    }

    #[tokio::test]
    async fn a_body_dropped_after_its_last_frame_was_seen_whole() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let mut tee = Tee::new(Full::new(Bytes::from_static(b"hi")), 64, move |b, truncated| {
            s.lock().unwrap().push((b, truncated));
        });
        // As hyper does: one frame, then no poll past `is_end_stream`.
        let frame = tee.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), Bytes::from_static(b"hi"));
        assert!(tee.is_end_stream());
        drop(tee);
        let s2 = seen.clone();
        let empty = Tee::new(Full::new(Bytes::new()), 64, move |b, truncated| {
            s2.lock().unwrap().push((b, truncated));
        });
        drop(empty);
        let partial = Tee::new(Full::new(Bytes::from_static(b"never read")), 64, {
            let s = seen.clone();
            move |b, truncated| s.lock().unwrap().push((b, truncated))
        });
        drop(partial);
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (Bytes::from_static(b"hi"), false),
                (Bytes::new(), false),
                (Bytes::new(), true)
            ]
        );
    }
}
