"""Social value orientation of scripted agents by the SVO Slider Measure: the five ideal types (one angle
each) and a uniformly random chooser (a spread of angles, with a bootstrap interval).

    python examples/svo.py

An LLM takes the same measure with ``aligngames solve svo --agent llm:temperature=0.7 --samples 20``.
"""

from aligngames.agents.basic import RandomAgent
from aligngames.agents.svo import IDEAL_TYPES, IdealTypeAgent
from aligngames.solvers.evaluation.svo import evaluate_svo

print(f"{'agent':18} {'angle':>7}  {'interval':>17}  {'category':16} IA index")
agents = {kind: IdealTypeAgent(kind) for kind in IDEAL_TYPES}
agents["random"] = RandomAgent()
for name, agent in agents.items():
    result = evaluate_svo(agent, samples=1 if name != "random" else 100, seed=0, secondary=True)
    low, high = result.interval
    index = "-" if result.inequality_aversion_index is None else f"{result.inequality_aversion_index:.3f}"
    print(f"{name:18} {result.angle:7.2f}  [{low:6.2f}, {high:6.2f}]  {result.category:16} {index}")
