import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { ApiError } from "./api.ts";

export function ErrorNote({ error }: { error: ApiError | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      <code>{error.code}</code> {error.message}
    </p>
  );
}

export function NotFound({ what }: { what: string }) {
  return (
    <section class="empty" data-testid="not-found">
      <h1>Not found</h1>
      <p>{what} does not exist, or this key cannot see it.</p>
      <a href="/functions">Back to functions</a>
    </section>
  );
}

export function Loading() {
  return <p class="muted">Loading…</p>;
}

/** A modal confirmation: Escape or "Cancel" closes it, focus goes to the dialog. */
export function Confirm(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  onConfirm(): void;
  onCancel(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} onClose={props.onCancel} aria-labelledby="confirm-title">
      <h2 id="confirm-title">{props.title}</h2>
      <div>{props.children}</div>
      <div class="row end">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" class="primary" onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

export const fmtMs = (ms: number | null | undefined): string =>
  ms === null || ms === undefined ? "–" : ms < 10 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`;
export const fmtPct = (ratio: number): string =>
  `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.01 ? 2 : 1)}%`;
export const fmtTime = (iso: string | null): string => (iso ? new Date(iso).toLocaleString() : "–");
