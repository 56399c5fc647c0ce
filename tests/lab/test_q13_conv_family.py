"""q13: a valid page declaration; one family member's analyzer count against the closed form."""

from cvprimer.lab._convnets import cost
from cvprimer.lab.experiments.q13_conv_family import C_IN, C_OUT, FAMILY, HW
from cvprimer.lab.experiments.q13_conv_family import ConvFamily as E


def test_page_declaration_is_valid_and_bilingual():
    E.check()
    assert E.kind == "page" and E.t("body", "en") and E.t("body", "zh")


def test_grouped_member_divides_weights_by_groups():
    c = cost(FAMILY["grouped 3x3, g=4"](), (1, C_IN) + HW)
    assert c["params"] == 3 * 3 * C_IN // 4 * C_OUT + C_OUT
    assert c["macs"] == 3 * 3 * C_IN // 4 * C_OUT * HW[0] * HW[1]
