"""GLiNER's span scoring, computed in an equivalent, cheaper order (decision 0023).

GLiNER (span mode ``markerV0``) scores a span of words ``i..j`` against a label prompt ``p`` as

    score = out(relu([s_i ; e_j])) . q(p),   out(x) = W2 relu(W1 x + b1) + b2

where ``s`` and ``e`` are the start and end projections of the words and ``q`` the prompt projection. Run as
written, ``out`` is a 768 -> 1536 -> 384 network applied to every span (each word times eight widths): on two
cores that took a third of the model's time, as much as the whole encoder. Both of its linear steps fold away:

- ``W1 [relu(s_i) ; relu(e_j)] = A relu(s_i) + B relu(e_j)``, with ``W1 = [A B]``: the first step is computed
  once per word, not once per span, and a span adds two rows;
- ``(W2 h + b2) . q = h . (W2^T q) + b2 . q``: the second step moves onto the handful of label prompts.

What is left per span is an addition, a ReLU and a dot product with each label. The result is the same
function of the same weights (float rounding aside); with int8 the activations are quantised at other points,
so spans scored near a threshold can move (the extraction's ``SPAN_RULES`` revision names this change).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from gliner.modeling.base import UniEncoderSpanModel
from gliner.modeling.span_rep import SpanMarkerV0
from torch import nn


class FoldedSpanMarker(nn.Module):
    """Replaces a ``SpanMarkerV0``: returns, per span, the hidden layer of its output network and a constant 1
    (for the folded bias), shape [B, L, max_width, 4D + 1]. Pairs with :class:`FoldedPromptProjection`."""

    def __init__(self, marker: SpanMarkerV0):
        super().__init__()
        first = marker.out_project[0]
        d, hidden = marker.project_start[0].in_features, first.out_features
        self.max_width = marker.max_width
        self.project_start, self.project_end = marker.project_start, marker.project_end
        # The first output step, split by the half of its input it reads (linear modules, so int8 reaches them),
        # with one more channel that is always 1: zero weights, and a bias of 1 on the end half.
        self.start_half = nn.Linear(d, hidden + 1, bias=False)
        self.end_half = nn.Linear(d, hidden + 1)
        with torch.no_grad():
            for part in (self.start_half, self.end_half):
                part.weight.zero_()
            self.start_half.weight[:hidden] = first.weight[:, :d]
            self.end_half.weight[:hidden] = first.weight[:, d:]
            self.end_half.bias[:hidden] = first.bias
            self.end_half.bias[hidden] = 1.0

    def forward(self, h: torch.Tensor, span_idx: torch.Tensor) -> torch.Tensor:
        # GLiNER's span_idx lists (i, i + w) for every word i and width w < max_width, in that order: span (i, w)
        # adds word i's start row to word i + w's end row. The end rows are read as sliding windows, not gathered
        # (a copy per span); a span that runs past the text reads the zero padding, and the decoder drops it.
        starts = self.start_half(self.project_start(h).relu())
        ends = self.end_half(self.project_end(h).relu())
        width = self.max_width
        windows = F.pad(ends, (0, 0, 0, width - 1)).unfold(1, width, 1)  # [B, L, 4D + 1, max_width], a view
        return (starts.unsqueeze(2) + windows.transpose(2, 3)).relu_()


class FoldedPromptProjection(nn.Module):
    """Replaces the prompt projection ``q``: returns ``[W2^T q(p) ; b2 . q(p)]`` per label prompt, so that the
    model's own ``einsum`` of span and prompt vectors gives the original scores."""

    def __init__(self, projection: nn.Module, second: nn.Linear):
        super().__init__()
        self.projection = projection
        # float, not an nn.Linear: it multiplies the few prompt vectors, and int8 would only cost accuracy here
        self.register_buffer("weight", second.weight.detach().clone())
        self.register_buffer("bias", second.bias.detach().clone())

    def forward(self, prompts: torch.Tensor) -> torch.Tensor:
        q = self.projection(prompts)
        return torch.cat([q @ self.weight, (q @ self.bias).unsqueeze(-1)], dim=-1)  # the span side's last channel is 1


def fold_span_scoring(gliner) -> bool:
    """Fold a loaded float GLiNER's span scoring in place (before any quantisation). Returns whether it did: a
    model of another span mode or structure is left as it is."""
    model = getattr(gliner, "model", None)
    # exact types: a subclass may score otherwise, and then folding would change what it computes
    if type(model) is not UniEncoderSpanModel or type(model.span_rep_layer.span_rep_layer) is not SpanMarkerV0:
        return False
    layer = model.span_rep_layer.span_rep_layer
    model.prompt_rep_layer = FoldedPromptProjection(model.prompt_rep_layer, layer.out_project[3])  # its 2nd step
    model.span_rep_layer.span_rep_layer = FoldedSpanMarker(layer)
    return True
