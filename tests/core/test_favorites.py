from kiebot_core.domain.favorites import answers_key


def test_the_answers_key_ignores_key_order_but_not_values():
    assert answers_key({"a": 1, "b": [1, 2]}) == answers_key({"b": [1, 2], "a": 1})
    assert answers_key({"a": 1}) != answers_key({"a": "1"})
    assert answers_key({"a": [1, 2]}) != answers_key({"a": [2, 1]})
    assert answers_key({"a": "кот"}) != answers_key({"a": "кит"})
