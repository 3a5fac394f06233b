"""Run by the SAM CLI's own Python (its tool environment holds aws-sam-translator, the project's does not):
reads `{"template": {...}, "parameter_sets": [{...}, ...]}` as JSON on stdin and writes the list of
transformed (plain CloudFormation) templates, one per parameter set, as JSON on stdout."""

import copy
import json
import sys

from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator


def main() -> None:
    request = json.load(sys.stdin)
    results = []
    for parameters in request["parameter_sets"]:
        translator = Translator(managed_policy_map={}, sam_parser=Parser())
        results.append(translator.translate(copy.deepcopy(request["template"]), parameter_values=parameters))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
