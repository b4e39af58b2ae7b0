"""The seven architecture-mismatch symptoms of Step 4 (the seed document's table): the model
they belong to, the root cause, and the capability that fixes them (used when no registered
check names its own `fixed_by`)."""

STEP4: dict[str, dict[str, str]] = {
    "paper_batch_records": {
        "model": "process",
        "root_cause": "A discrete work-order completion record is used as the batch record: it "
        "does not capture in-process parameters or step deviations, so records are assembled "
        "from operator log sheets.",
        "fixed_by": "Electronic batch record with step-level parameter capture and deviation "
        "documentation",
        "risk": "21 CFR Part 11 / EU GMP Annex 11 compliance gap: audit finding risk",
    },
    "old_recipe_versions": {
        "model": "process",
        "root_cause": "No recipe version control integrated with production execution: "
        "operators pick recipes by hand, changes travel on paper or by e-mail.",
        "fixed_by": "MES-integrated recipe version management: only the approved current "
        "version is executable",
        "risk": "Batch produced against a superseded recipe: deviation, rework or recall",
    },
    "slow_lot_recall": {
        "model": "process",
        "root_cause": "Lot genealogy kept in spreadsheets or ERP lot tracking without split and "
        "merge events.",
        "fixed_by": "Forward and backward lot traceability with split and merge event tracking",
        "risk": "Recall scope not known quickly: regulatory and customer notification delays",
    },
    "zero_labor_variance": {
        "model": "discrete",
        "root_cause": "No operation-level labor time entry: work-order hours are estimated, "
        "not captured.",
        "fixed_by": "Operation-level labor and machine time capture with actual vs. standard "
        "variance reporting",
        "risk": "Inaccurate product costing: prices and margins on estimated costs",
    },
    "missing_component_linkage": {
        "model": "discrete",
        "root_cause": "Batch-oriented traceability links lots to batches but not components to "
        "serial numbers at the operation.",
        "fixed_by": "Component-to-assembly linkage recorded at the operation where the "
        "component is consumed",
        "risk": "IATF 16949 / AS9100 finding: customer-required traceability not demonstrable",
    },
    "vessel_blind_scheduling": {
        "model": "process",
        "root_cause": "A discrete finite-capacity scheduler ignores vessel volume, changeovers "
        "and cleaning-validation time.",
        "fixed_by": "Campaign and vessel scheduling with a changeover matrix for process equipment",
        "risk": "Schedule conflicts, more changeovers, cleaning-validation gaps",
    },
    "scrap_not_by_operation": {
        "model": "discrete",
        "root_cause": "Process yield accounting tracks total yield but not unit scrap at each "
        "routing operation.",
        "fixed_by": "Unit-level pass/fail inspection and scrap recording at each routing operation",
        "risk": "Inventory inaccuracy: finished goods and WIP wrong in the ERP",
    },
}
