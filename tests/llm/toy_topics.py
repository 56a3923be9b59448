"""A dozen short sentences on two topics any language model separates: the toy labelling of the LS-LLaMA tests."""

ANIMALS = ["The dog chased the cat around the garden.", "A horse was grazing in the field.",
           "The bird built a nest in the old tree.", "My cat sleeps all day on the sofa.",
           "Two ducks swam slowly across the pond.", "The cow was waiting to be milked."]
MONEY = ["I transferred money to my bank account.", "The loan interest rate went up again.",
         "She paid the invoice with her credit card.", "How much is the fee for a wire transfer?",
         "My salary was deposited on Friday.", "The bank charged me an overdraft fee."]
