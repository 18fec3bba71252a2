import uuid

from nacl.signing import SigningKey

from protocol.receipts import ReceiptPayload, ReceiptTicket, b45decode, b45encode, sign_receipt, verify_receipt

KEY = SigningKey(b"\x01" * 32)
SIGNER = uuid.UUID(int=1)


def test_base45_matches_the_rfc_examples() -> None:
    assert b45encode(b"AB") == "BB8"
    assert b45encode(b"Hello!!") == "%69 VD92EX0"
    assert b45encode(b"ietf!") == "QED8WEX0"
    assert b45decode("QED8WEX0") == b"ietf!"


def test_every_receipt_round_trips_including_a_scanner_line_end() -> None:
    for n in range(300):
        p = ReceiptPayload(
            receipt_no=f"SH01-T1-{n:06d}",
            store_id=uuid.UUID(int=2),
            checkout_id=uuid.UUID(int=n + 10),
            tickets=[ReceiptTicket(uuid.UUID(int=n + 1000), f"SH01-C-APL-H1-{n:06d}", 100 + n)],
            total=100 + n,
            paid=100 + n,
            at=1_740_000_000 + n,
            signer=SIGNER,
        )
        text = sign_receipt(p, KEY)
        assert verify_receipt(text + "\r\n", lambda signer: KEY.verify_key.encode() if signer == SIGNER else None) == p
