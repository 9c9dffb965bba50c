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
    from deepchem_acml.devices import resolve_device

    device = resolve_device(device)
    from tqdm.auto import tqdm
    from transformers import DataCollatorForLanguageModeling, RobertaForMaskedLM

    smiles = [s for s in smiles if len(smiles_tokens(s)) <= max_length - 2]
    if len(smiles) < 100:
        raise ValueError(f"need at least 100 SMILES of at most {max_length - 2} tokens, got "
                         f"{len(smiles)}")
    torch.manual_seed(seed)
    order = np.random.default_rng(seed).permutation(len(smiles))
    n_valid = max(50, int(len(smiles) * validation_fraction))
    valid = [smiles[i] for i in order[:n_valid]]
    train = [smiles[i] for i in order[n_valid:]]
    tokenizer = build_smiles_tokenizer(train, max_length=max_length)
    model = RobertaForMaskedLM(small_roberta_config(len(tokenizer), hidden_size, layers, heads,
                                                    max_length)).to(device)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15,
                                               return_tensors="pt")
    train_ids = tokenizer(train)["input_ids"]
    valid_ids = tokenizer(valid)["input_ids"]
    steps = epochs * math.ceil(len(train_ids) / batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, then linear decay to 0
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / (steps - warmup))))

    def batches(ids: List[List[int]], shuffle: bool):
        index = torch.randperm(len(ids)).tolist() if shuffle else list(range(len(ids)))
        for start in range(0, len(index), batch_size):
            batch = collator([{"input_ids": ids[i]} for i in index[start:start + batch_size]])
            yield {key: value.to(device) for key, value in batch.items()}

    def evaluate() -> Dict[str, float]:
        torch.manual_seed(seed + 1)  # the same masks every evaluation
        model.eval()
        loss_sum = correct = count = 0.0
        with torch.no_grad():
            for batch in batches(valid_ids, shuffle=False):
                output = model(**batch)
                masked = batch["labels"] != -100
                n = int(masked.sum())
                loss_sum += float(output.loss) * n
                correct += int((output.logits.argmax(-1)[masked] == batch["labels"][masked]).sum())
                count += n
        model.train()
        return {"valid_loss": loss_sum / count, "valid_accuracy": correct / count}

    token_counts = Counter(i for ids in train_ids for i in ids[1:-1])
    commonest = token_counts.most_common(1)[0][1] / sum(token_counts.values())
    history = []
    model.train()
    bar = tqdm(total=steps, desc="SMILES masked LM", unit="step", disable=not progress)
    for epoch in range(epochs):
        started, total, n_batches = time.time(), 0.0, 0
        torch.manual_seed(seed + 100 + epoch)
        for batch in batches(train_ids, shuffle=True):
            loss = model(**batch).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total, n_batches = total + loss.item(), n_batches + 1
            bar.update(1)
            bar.set_postfix(loss=f"{total / n_batches:.3f}")
        record = {"epoch": epoch + 1, "train_loss": total / n_batches, **evaluate(),
                  "commonest_token_accuracy": commonest, "seconds": time.time() - started}
        history.append(record)
    bar.close()
    model = model.cpu().eval()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    info = {"recipe": "deepchem_acml.pretraining.smiles_mlm.pretrain_smiles_roberta",
            "n_train_smiles": len(train), "n_valid_smiles": len(valid),
            "vocabulary_size": len(tokenizer), "epochs": epochs, "batch_size": batch_size,
            "learning_rate": learning_rate, "hidden_size": hidden_size, "layers": layers,
            "heads": heads, "max_length": max_length, "seed": seed,
            "parameters": sum(p.numel() for p in model.parameters()),
            **(provenance or {}), "history": history}
    (out_dir / "provenance.json").write_text(json.dumps(info, indent=2))
    return model, history
