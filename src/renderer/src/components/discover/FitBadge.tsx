// The fits / tight / won't fit label, with its reason as the accessible description.
import { FIT_LABEL_TEXT, type FitEstimate } from '../../../../shared/model-fit';

export function FitBadge({ fit }: { fit: FitEstimate | null }) {
  if (!fit) {
    return (
      <span className="fit unknown" data-testid="fit-label" data-fit="unknown" title="Not estimated yet">
        …
      </span>
    );
  }
  return (
    <span className={`fit ${fit.label}`} data-testid="fit-label" data-fit={fit.label} title={fit.reason} aria-label={`${FIT_LABEL_TEXT[fit.label]}: ${fit.reason}`}>
      {FIT_LABEL_TEXT[fit.label]}
    </span>
  );
}
