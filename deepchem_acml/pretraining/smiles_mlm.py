"""Recipe: pretrain a small RoBERTa on SMILES by masked-language modelling.

The offline alternative to ChemNet for the SMILES modality, and the recipe users can rerun on
their own SMILES. A regex tokenizer (one token per atom, bond, ring-closure digit or branch,
the scheme of Schwaller et al., ACS Cent. Sci. 2019) with a word-level vocabulary learnt from
the training SMILES; RoBERTa's masking (15 % of tokens: 80 % ``<mask>``, 10 % random, 10 %
kept). Molecules of the canonical validation and test splits
(:func:`deepchem_acml.data.splits.inchikey_split`, seed 0) are left out, so an ACML test
molecule's SMILES was never seen by its frozen encoder.

The output directory is an ordinary HuggingFace checkpoint (``config.json``,
``model.safetensors``, ``tokenizer.json``): ``get_modality("smiles", checkpoint=DIR)`` uses it.
"""
from __future__ import annotations

import json
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np
import torch

from deepchem_acml.models.utils import seed_everything

SMILES_TOKEN_PATTERN = (r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:"
                        r"|~|@|\?|>|\*|\$|%[0-9]{2}|[0-9])")
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def smiles_tokens(smiles: str) -> List[str]:
    """Split a SMILES string into regex tokens.

    Examples
    --------
    >>> smiles_tokens("C[C@H](Cl)c1ccccc1")
    ['C', '[C@H]', '(', 'Cl', ')', 'c', '1', 'c', 'c', 'c', 'c', 'c', '1']
    """
    import re

    return re.findall(SMILES_TOKEN_PATTERN, smiles)


def build_smiles_tokenizer(smiles: Sequence[str], min_count: int = 1, max_length: int = 128):
    """A ``PreTrainedTokenizerFast`` with RoBERTa's special tokens and a word-level vocabulary
    of the regex tokens seen at least ``min_count`` times in ``smiles`` (others map to
    ``<unk>``)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    counts = Counter(token for s in smiles for token in smiles_tokens(s))
    vocabulary = list(SPECIAL_TOKENS) + sorted(t for t, n in counts.items() if n >= min_count)
    tokenizer = Tokenizer(models.WordLevel({t: i for i, t in enumerate(vocabulary)},
                                           unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(SMILES_TOKEN_PATTERN),
                                                   behavior="isolated")
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
        model_max_length=max_length)


def small_roberta_config(vocab_size: int, hidden_size: int = 128, layers: int = 4,
                         heads: int = 4, max_length: int = 128):
    from transformers import RobertaConfig

    return RobertaConfig(vocab_size=vocab_size, hidden_size=hidden_size,
                         num_hidden_layers=layers, num_attention_heads=heads,
                         intermediate_size=2 * hidden_size,
                         max_position_embeddings=max_length + 2,  # RoBERTa offsets by padding_idx
                         type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2)


def pretrain_smiles_roberta(smiles: Sequence[str], out_dir: Union[str, Path], epochs: int = 1,
                            batch_size: int = 128, learning_rate: float = 1e-3,
                            hidden_size: int = 128, layers: int = 4, heads: int = 4,
                            max_length: int = 128, validation_fraction: float = 0.02,
                            seed: int = 0, provenance: Dict[str, Any] = None,
                            progress: bool = True, device: Any = None
                            ) -> Tuple[Any, List[Dict[str, Any]]]:
    """Train a small ``RobertaForMaskedLM`` on canonical SMILES and save it, with its
    tokenizer and a ``provenance.json``, to ``out_dir``.

    Returns the trained model (eval mode) and one history record per epoch (masked-token
    cross-entropy and accuracy on the held-out fraction, and the loss of always guessing the
    commonest token, for scale). Trains on ``device`` (None: the GPU when there is one);
    the saved model and the one returned are on the CPU.
    """
    from tqdm.auto import tqdm
    from transformers import DataCollatorForLanguageModeling, RobertaForMaskedLM

    from deepchem_acml.devices import resolve_device

    device = resolve_device(device)
    train, valid = split_smiles(smiles, max_length, validation_fraction, seed)
    seed_everything(seed)
    tokenizer = build_smiles_tokenizer(train, max_length=max_length)
    model = RobertaForMaskedLM(small_roberta_config(len(tokenizer), hidden_size, layers, heads,
                                                    max_length)).to(device)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15,
                                               return_tensors="pt")
    batches = MaskedBatches(collator, batch_size, device)
    train_ids, valid_ids = tokenizer(train)["input_ids"], tokenizer(valid)["input_ids"]
    steps = epochs * math.ceil(len(train_ids) / batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    schedule = warmup_then_linear_decay(optimizer, steps)
    commonest = commonest_token_share(train_ids)
    history = []
    bar = tqdm(total=steps, desc="SMILES masked LM", unit="step", disable=not progress)
    for epoch in range(epochs):
        started = time.time()
        seed_everything(seed + 100 + epoch, deterministic=False)  # (each epoch's masks)
        train_loss = train_epoch(model, batches(train_ids, shuffle=True), optimizer, schedule,
                                 bar)
        history.append({"epoch": epoch + 1, "train_loss": train_loss,
                        **evaluate_masked_lm(model, batches(valid_ids, shuffle=False), seed),
                        "commonest_token_accuracy": commonest,
                        "seconds": time.time() - started})
    bar.close()
    model = model.cpu().eval()
    info = {"recipe": "deepchem_acml.pretraining.smiles_mlm.pretrain_smiles_roberta",
            "n_train_smiles": len(train), "n_valid_smiles": len(valid),
            "vocabulary_size": len(tokenizer), "epochs": epochs, "batch_size": batch_size,
            "learning_rate": learning_rate, "hidden_size": hidden_size, "layers": layers,
            "heads": heads, "max_length": max_length, "seed": seed,
            "parameters": sum(p.numel() for p in model.parameters()),
            **(provenance or {}), "history": history}
    save_roberta(model, tokenizer, info, Path(out_dir))
    return model, history


def split_smiles(smiles: Sequence[str], max_length: int, validation_fraction: float,
                 seed: int) -> Tuple[List[str], List[str]]:
    """(train, validation) SMILES of at most ``max_length - 2`` tokens, split at random."""
    smiles = [s for s in smiles if len(smiles_tokens(s)) <= max_length - 2]
    if len(smiles) < 100:
        raise ValueError(f"need at least 100 SMILES of at most {max_length - 2} tokens, got "
                         f"{len(smiles)}")
    order = np.random.default_rng(seed).permutation(len(smiles))
    n_valid = max(50, int(len(smiles) * validation_fraction))
    return [smiles[i] for i in order[n_valid:]], [smiles[i] for i in order[:n_valid]]


def warmup_then_linear_decay(optimizer: torch.optim.Optimizer, steps: int):
    """Linear warm-up over the first 5 % of ``steps``, then linear decay to 0."""
    warmup = max(1, steps // 20)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup,
                                    max(0.0, (steps - step) / max(steps - warmup, 1))))


def commonest_token_share(token_ids: List[List[int]]) -> float:
    """How often the commonest token occurs (the accuracy of always guessing it, for scale)."""
    counts = Counter(i for ids in token_ids for i in ids[1:-1])
    return counts.most_common(1)[0][1] / sum(counts.values())


class MaskedBatches:
    """Batches of token ids, masked by the collator, on ``device``."""

    def __init__(self, collator: Any, batch_size: int, device: Any):
        self.collator, self.batch_size, self.device = collator, batch_size, device

    def __call__(self, ids: List[List[int]], shuffle: bool):
        index = torch.randperm(len(ids)).tolist() if shuffle else list(range(len(ids)))
        for start in range(0, len(index), self.batch_size):
            rows = index[start:start + self.batch_size]
            batch = self.collator([{"input_ids": ids[i]} for i in rows])
            yield {key: value.to(self.device) for key, value in batch.items()}


def train_epoch(model: Any, batches, optimizer: torch.optim.Optimizer, schedule: Any,
                bar: Any) -> float:
    """One pass of masked-LM training (gradients clipped at 1); the mean batch loss."""
    model.train()
    total, n_batches = 0.0, 0
    for batch in batches:
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        total, n_batches = total + loss.item(), n_batches + 1
        bar.update(1)
        bar.set_postfix(loss=f"{total / n_batches:.3f}")
    return total / max(n_batches, 1)


@torch.no_grad()
def evaluate_masked_lm(model: Any, batches, seed: int) -> Dict[str, float]:
    """Masked-token cross-entropy and accuracy (the same masks at every call: seeded)."""
    seed_everything(seed + 1, deterministic=False)
    model.eval()
    loss_sum = correct = count = 0.0
    for batch in batches:
        output = model(**batch)
        masked = batch["labels"] != -100
        n = int(masked.sum())
        loss_sum += float(output.loss) * n
        correct += int((output.logits.argmax(-1)[masked] == batch["labels"][masked]).sum())
        count += n
    model.train()
    return {"valid_loss": loss_sum / count, "valid_accuracy": correct / count}


def save_roberta(model: Any, tokenizer: Any, info: Dict[str, Any], out_dir: Path) -> None:
    """The model, its tokenizer and ``provenance.json`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "provenance.json").write_text(json.dumps(info, indent=2))
