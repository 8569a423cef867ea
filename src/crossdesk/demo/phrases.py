"""What demo buyers write and what agents answer, per intent, in the buyers' languages.

Buyer lines may use ``{order}`` and ``{product}``; agent lines also ``{name}``, ``{tracking}``, ``{carrier}``.
Intents whose order has a parcel on its way or delivered mention the tracking number in the reply.
"""

from __future__ import annotations

INTENTS = (
    "wismo",
    "delay",
    "address",
    "cancel",
    "return",
    "damaged",
    "invoice",
    "product",
    "discount",
    "refund",
)
# Which intents fit an order in each state (a refunded order has no parcel).
BY_STATE: dict[str, tuple[str, ...]] = {
    "moving": ("wismo", "wismo", "wismo", "delay", "delay", "address", "cancel"),
    "delivered": ("return", "damaged", "damaged", "invoice", "product", "product", "discount"),
    "refunded": ("refund",),
}
TAGS: dict[str, list[str]] = {
    "wismo": ["wismo"],
    "delay": ["wismo", "delay"],
    "address": ["address-change"],
    "cancel": ["cancellation"],
    "return": ["return"],
    "damaged": ["damaged", "return"],
    "invoice": ["invoice"],
    "product": ["product-question"],
    "discount": ["discount"],
    "refund": ["refund"],
}

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Order {order}",
        "wismo": "Hi, I ordered last week (order {order}) and haven't received anything yet. Where is "
        "my parcel?",
        "wismo.reply": "Hi {name}, thanks for your patience! Order {order} is on its way with "
        "{carrier}, tracking number {tracking}. It should reach you within the next two working days.",
        "delay": "Order {order} still hasn't arrived and the tracking hasn't moved for days. I need "
        "these items for an event this weekend. This is really disappointing.",
        "delay.reply": "Hi {name}, I'm sorry about the wait. I've opened a query with {carrier} for "
        "parcel {tracking}. If it hasn't arrived by Friday we will send a replacement by express at our "
        "cost.",
        "address": "Hello, can I still change the delivery address for order {order}? I've moved to a "
        "new flat.",
        "address.reply": "Hi {name}, the parcel has already left our warehouse, so we've asked "
        "{carrier} to redirect it. You can also update the address yourself with tracking number "
        "{tracking}.",
        "cancel": "Please cancel order {order}, I ordered the wrong quantity by mistake.",
        "cancel.reply": "Hi {name}, order {order} has already been shipped with {carrier} ({tracking}), "
        "so we can't stop it. Once it arrives, just send it back unopened and we'll refund you in full.",
        "return": "Hi, I'd like to return the {product} from order {order}. It isn't quite what I expected.",
        "return.reply": "Hi {name}, no problem: you can return it within 30 days. I've e-mailed you a "
        "prepaid return label; please quote your original tracking number {tracking} on the parcel.",
        "damaged": "The {product} in order {order} arrived broken, the box was crushed. What can you do?",
        "damaged.reply": "Hi {name}, I'm so sorry! Could you send us a photo of the item and the box? "
        "We'll send a replacement right away and report parcel {tracking} to {carrier}.",
        "invoice": "Could you send me a VAT invoice for order {order}? I need it for my company's accounts.",
        "invoice.reply": "Hi {name}, the VAT invoice for order {order} is attached. For your records, "
        "it was delivered by {carrier}, tracking {tracking}.",
        "product": "Is the {product} still available? I'd like to order 24 more like in order {order}.",
        "product.reply": "Hi {name}, yes, the {product} is in stock and ships within two working days. "
        "Your previous order {order} was delivered by {carrier} ({tracking}).",
        "discount": "Do you have a discount code for repeat customers? I've just received order {order} "
        "and want to order again.",
        "discount.reply": "Hi {name}, thank you for coming back! Use code THANKYOU10 for 10% off your "
        "next order. Glad order {order} arrived safely ({carrier} {tracking}).",
        "refund": "I cancelled order {order} but I haven't seen the refund yet. When will I get my "
        "money back?",
        "refund.reply": "Hi {name}, the refund for order {order} was issued to your original payment "
        "method. Banks usually take 3-5 working days to show it.",
        "followup": "Any news on this? I still haven't heard anything.",
        "thanks": "Great, thank you for your help!",
        "closing": "You're welcome, {name}! Have a lovely day.",
        "holding": "Hi {name}, I've asked {carrier} to investigate parcel {tracking} and will get back "
        "to you as soon as I hear from them.",
    },
    "de": {
        "subject": "Bestellung {order}",
        "wismo": "Hallo, ich habe letzte Woche bestellt (Bestellung {order}) und noch nichts erhalten. "
        "Wo ist mein Paket?",
        "wismo.reply": "Hallo {name}, danke für Ihre Geduld! Ihre Bestellung {order} ist mit {carrier} "
        "unterwegs, Sendungsnummer {tracking}. Sie sollte in den nächsten zwei Werktagen ankommen.",
        "delay": "Bestellung {order} ist immer noch nicht da und die Sendungsverfolgung zeigt seit "
        "Tagen nichts Neues. Ich brauche die Sachen am Wochenende. Sehr enttäuschend.",
        "delay.reply": "Hallo {name}, es tut mir leid, dass es so lange dauert. Ich habe bei {carrier} "
        "einen Nachforschungsauftrag für {tracking} gestellt. Ist das Paket bis Freitag nicht da, "
        "schicken wir kostenlos per Express Ersatz.",
        "address": "Hallo, kann ich die Lieferadresse für Bestellung {order} noch ändern? Ich bin umgezogen.",
        "address.reply": "Hallo {name}, das Paket hat unser Lager schon verlassen, daher haben wir "
        "{carrier} um Umleitung gebeten. Sie können die Adresse auch selbst mit der Sendungsnummer "
        "{tracking} ändern.",
        "cancel": "Bitte stornieren Sie Bestellung {order}, ich habe versehentlich die falsche Menge "
        "bestellt.",
        "cancel.reply": "Hallo {name}, Bestellung {order} wurde bereits mit {carrier} versandt "
        "({tracking}). Schicken Sie das Paket nach Erhalt einfach ungeöffnet zurück, dann erstatten wir "
        "den vollen Betrag.",
        "return": "Hallo, ich möchte den Artikel „{product}“ aus Bestellung {order} zurückgeben. Er "
        "entspricht nicht meinen Erwartungen.",
        "return.reply": "Hallo {name}, kein Problem: Sie haben 30 Tage Rückgaberecht. Ein frankiertes "
        "Rücksendeetikett ist per E-Mail unterwegs; bitte geben Sie die Sendungsnummer {tracking} an.",
        "damaged": "Der Artikel „{product}“ aus Bestellung {order} kam kaputt an, der Karton war "
        "zerdrückt. Was können Sie tun?",
        "damaged.reply": "Hallo {name}, das tut mir sehr leid! Können Sie uns ein Foto vom Artikel und "
        "vom Karton schicken? Wir senden sofort Ersatz und melden das Paket {tracking} bei {carrier}.",
        "invoice": "Könnten Sie mir eine Rechnung mit ausgewiesener MwSt. für Bestellung {order} "
        "schicken? Ich brauche sie für die Buchhaltung.",
        "invoice.reply": "Hallo {name}, anbei die Rechnung zu Bestellung {order}. Zugestellt wurde sie "
        "von {carrier}, Sendungsnummer {tracking}.",
        "product": "Ist „{product}“ noch verfügbar? Ich möchte noch einmal 24 Stück wie in Bestellung "
        "{order} bestellen.",
        "product.reply": "Hallo {name}, ja, „{product}“ ist auf Lager und wird innerhalb von zwei "
        "Werktagen versandt. Ihre letzte Bestellung {order} wurde von {carrier} zugestellt ({tracking}).",
        "discount": "Gibt es einen Rabattcode für Stammkunden? Bestellung {order} ist gerade angekommen "
        "und ich möchte nachbestellen.",
        "discount.reply": "Hallo {name}, schön, dass Sie wieder bestellen! Mit dem Code THANKYOU10 "
        "erhalten Sie 10 % auf die nächste Bestellung. Freut mich, dass {order} gut angekommen ist "
        "({carrier} {tracking}).",
        "refund": "Ich habe Bestellung {order} storniert, aber noch keine Erstattung gesehen. Wann "
        "bekomme ich mein Geld zurück?",
        "refund.reply": "Hallo {name}, die Erstattung für Bestellung {order} wurde auf Ihr "
        "ursprüngliches Zahlungsmittel veranlasst. Banken brauchen meist 3-5 Werktage, bis sie sichtbar "
        "ist.",
        "followup": "Gibt es schon etwas Neues? Ich habe noch nichts gehört.",
        "thanks": "Super, vielen Dank für die Hilfe!",
        "closing": "Gern geschehen, {name}! Einen schönen Tag noch.",
        "holding": "Hallo {name}, ich habe {carrier} gebeten, das Paket {tracking} zu prüfen, und melde "
        "mich, sobald ich Antwort habe.",
    },
    "fr": {
        "subject": "Commande {order}",
        "wismo": "Bonjour, j'ai commandé la semaine dernière (commande {order}) et je n'ai toujours "
        "rien reçu. Où est mon colis ?",
        "wismo.reply": "Bonjour {name}, merci de votre patience ! Votre commande {order} est en route "
        "avec {carrier}, numéro de suivi {tracking}. Elle devrait arriver d'ici deux jours ouvrés.",
        "delay": "La commande {order} n'est toujours pas arrivée et le suivi ne bouge plus depuis des "
        "jours. J'en ai besoin pour un événement ce week-end. Je suis très déçue.",
        "delay.reply": "Bonjour {name}, je suis désolé pour cette attente. J'ai ouvert une enquête "
        "auprès de {carrier} pour le colis {tracking}. S'il n'est pas arrivé vendredi, nous renvoyons "
        "la commande en express à nos frais.",
        "address": "Bonjour, puis-je encore modifier l'adresse de livraison de la commande {order} ? "
        "J'ai déménagé.",
        "address.reply": "Bonjour {name}, le colis a déjà quitté notre entrepôt : nous avons demandé à "
        "{carrier} de le réacheminer. Vous pouvez aussi modifier l'adresse vous-même avec le numéro de "
        "suivi {tracking}.",
        "cancel": "Merci d'annuler la commande {order}, je me suis trompé de quantité.",
        "cancel.reply": "Bonjour {name}, la commande {order} a déjà été expédiée avec {carrier} "
        "({tracking}). À réception, renvoyez-la simplement sans l'ouvrir et nous vous rembourserons "
        "intégralement.",
        "return": "Bonjour, je voudrais retourner l'article « {product} » de la commande {order}. Il ne "
        "correspond pas à mes attentes.",
        "return.reply": "Bonjour {name}, aucun souci : vous disposez de 30 jours pour le retour. Je "
        "vous ai envoyé une étiquette prépayée par e-mail ; indiquez le numéro de suivi {tracking} sur "
        "le colis.",
        "damaged": "L'article « {product} » de la commande {order} est arrivé cassé, le carton était "
        "écrasé. Que pouvez-vous faire ?",
        "damaged.reply": "Bonjour {name}, toutes mes excuses ! Pouvez-vous nous envoyer une photo de "
        "l'article et du carton ? Nous expédions un remplacement tout de suite et signalons le colis "
        "{tracking} à {carrier}.",
        "invoice": "Pourriez-vous m'envoyer une facture avec TVA pour la commande {order} ? J'en ai "
        "besoin pour ma comptabilité.",
        "invoice.reply": "Bonjour {name}, vous trouverez ci-joint la facture de la commande {order}, "
        "livrée par {carrier} (suivi {tracking}).",
        "product": "Est-ce que « {product} » est toujours disponible ? Je voudrais en recommander 24 "
        "comme dans la commande {order}.",
        "product.reply": "Bonjour {name}, oui, « {product} » est en stock et part sous deux jours "
        "ouvrés. Votre commande précédente {order} a été livrée par {carrier} ({tracking}).",
        "discount": "Avez-vous un code de réduction pour les clients fidèles ? Je viens de recevoir la "
        "commande {order} et je voudrais recommander.",
        "discount.reply": "Bonjour {name}, merci de votre fidélité ! Le code THANKYOU10 vous donne 10 % "
        "sur votre prochaine commande. Ravi que {order} soit bien arrivée ({carrier} {tracking}).",
        "refund": "J'ai annulé la commande {order} mais je n'ai pas encore été remboursée. Quand "
        "vais-je récupérer mon argent ?",
        "refund.reply": "Bonjour {name}, le remboursement de la commande {order} a été émis sur votre "
        "moyen de paiement d'origine. Les banques mettent en général 3 à 5 jours ouvrés à l'afficher.",
        "followup": "Des nouvelles ? Je n'ai toujours pas de réponse.",
        "thanks": "Parfait, merci beaucoup pour votre aide !",
        "closing": "Avec plaisir, {name} ! Bonne journée.",
        "holding": "Bonjour {name}, j'ai demandé à {carrier} de vérifier le colis {tracking} et je "
        "reviens vers vous dès que j'ai leur réponse.",
    },
    "es": {
        "subject": "Pedido {order}",
        "wismo": "Hola, hice un pedido la semana pasada (pedido {order}) y todavía no he recibido nada. "
        "¿Dónde está mi paquete?",
        "wismo.reply": "Hola {name}, ¡gracias por tu paciencia! El pedido {order} va en camino con "
        "{carrier}, número de seguimiento {tracking}. Debería llegar en los próximos dos días "
        "laborables.",
        "delay": "El pedido {order} sigue sin llegar y el seguimiento no se mueve desde hace días. Lo "
        "necesito para un evento este fin de semana. Estoy muy decepcionada.",
        "delay.reply": "Hola {name}, siento mucho la espera. He abierto una reclamación con {carrier} "
        "para el envío {tracking}. Si no ha llegado el viernes, te enviamos otro por urgente sin coste.",
        "address": "Hola, ¿puedo cambiar todavía la dirección de entrega del pedido {order}? Me he mudado.",
        "address.reply": "Hola {name}, el paquete ya ha salido del almacén, así que hemos pedido a "
        "{carrier} que lo redirija. También puedes cambiar la dirección tú mismo con el número de "
        "seguimiento {tracking}.",
        "cancel": "Por favor, cancelad el pedido {order}, me he equivocado con la cantidad.",
        "cancel.reply": "Hola {name}, el pedido {order} ya se ha enviado con {carrier} ({tracking}), "
        "así que no podemos pararlo. Cuando llegue, devuélvelo sin abrir y te reembolsamos el importe "
        "completo.",
        "return": "Hola, quiero devolver el artículo «{product}» del pedido {order}. No es lo que esperaba.",
        "return.reply": "Hola {name}, sin problema: tienes 30 días para devolverlo. Te he enviado por "
        "correo una etiqueta de devolución prepagada; indica el número de seguimiento {tracking} en el "
        "paquete.",
        "damaged": "El artículo «{product}» del pedido {order} llegó roto y la caja estaba aplastada. "
        "¿Qué podéis hacer?",
        "damaged.reply": "Hola {name}, ¡lo siento muchísimo! ¿Nos mandas una foto del artículo y de la "
        "caja? Enviamos un reemplazo enseguida y lo notificamos a {carrier} (envío {tracking}).",
        "invoice": "¿Me podéis enviar una factura con IVA del pedido {order}? La necesito para la "
        "contabilidad de mi empresa.",
        "invoice.reply": "Hola {name}, adjunto la factura del pedido {order}. Lo entregó {carrier}, "
        "número de seguimiento {tracking}.",
        "product": "¿Sigue disponible «{product}»? Quiero pedir otras 24 unidades como en el pedido {order}.",
        "product.reply": "Hola {name}, sí, «{product}» está en stock y sale en dos días laborables. Tu "
        "pedido anterior {order} lo entregó {carrier} ({tracking}).",
        "discount": "¿Tenéis algún código de descuento para clientes habituales? Acabo de recibir el "
        "pedido {order} y quiero repetir.",
        "discount.reply": "Hola {name}, ¡gracias por repetir! Con el código THANKYOU10 tienes un 10 % "
        "en tu próximo pedido. Me alegro de que {order} llegara bien ({carrier} {tracking}).",
        "refund": "Cancelé el pedido {order} pero todavía no he visto el reembolso. ¿Cuándo me "
        "devolvéis el dinero?",
        "refund.reply": "Hola {name}, el reembolso del pedido {order} se ha emitido a tu método de pago "
        "original. Los bancos suelen tardar de 3 a 5 días laborables en reflejarlo.",
        "followup": "¿Alguna novedad? Sigo sin saber nada.",
        "thanks": "¡Genial, muchas gracias por la ayuda!",
        "closing": "¡De nada, {name}! Que tengas un buen día.",
        "holding": "Hola {name}, he pedido a {carrier} que revise el envío {tracking} y te escribo en "
        "cuanto me respondan.",
    },
    "it": {
        "subject": "Ordine {order}",
        "wismo": "Buongiorno, ho ordinato la settimana scorsa (ordine {order}) e non ho ancora ricevuto "
        "nulla. Dov'è il mio pacco?",
        "wismo.reply": "Ciao {name}, grazie per la pazienza! L'ordine {order} è in viaggio con "
        "{carrier}, numero di tracciamento {tracking}. Dovrebbe arrivare entro due giorni lavorativi.",
        "delay": "L'ordine {order} non è ancora arrivato e il tracciamento è fermo da giorni. Mi serve "
        "per un evento questo fine settimana. Sono molto delusa.",
        "delay.reply": "Ciao {name}, mi dispiace molto per l'attesa. Ho aperto una pratica con "
        "{carrier} per la spedizione {tracking}. Se non arriva entro venerdì, ne spediamo un'altra in "
        "espresso a nostre spese.",
        "address": "Buongiorno, posso ancora cambiare l'indirizzo di consegna dell'ordine {order}? Ho "
        "traslocato.",
        "address.reply": "Ciao {name}, il pacco ha già lasciato il magazzino, quindi abbiamo chiesto a "
        "{carrier} di reindirizzarlo. Puoi anche aggiornare l'indirizzo tu stesso con il numero "
        "{tracking}.",
        "cancel": "Per favore annullate l'ordine {order}, ho sbagliato la quantità.",
        "cancel.reply": "Ciao {name}, l'ordine {order} è già stato spedito con {carrier} ({tracking}). "
        "Quando arriva, rispediscilo senza aprirlo e ti rimborsiamo l'intero importo.",
        "return": "Buongiorno, vorrei restituire l'articolo «{product}» dell'ordine {order}. Non è come "
        "me lo aspettavo.",
        "return.reply": "Ciao {name}, nessun problema: hai 30 giorni per il reso. Ti ho inviato per "
        "e-mail un'etichetta di reso prepagata; indica sul pacco il numero di tracciamento {tracking}.",
        "damaged": "L'articolo «{product}» dell'ordine {order} è arrivato rotto, la scatola era "
        "schiacciata. Cosa potete fare?",
        "damaged.reply": "Ciao {name}, mi dispiace tantissimo! Puoi mandarci una foto dell'articolo e "
        "della scatola? Spediamo subito una sostituzione e segnaliamo la spedizione {tracking} a "
        "{carrier}.",
        "invoice": "Potreste inviarmi la fattura con IVA dell'ordine {order}? Mi serve per la contabilità.",
        "invoice.reply": "Ciao {name}, in allegato la fattura dell'ordine {order}, consegnato da "
        "{carrier} (tracciamento {tracking}).",
        "product": "«{product}» è ancora disponibile? Vorrei ordinarne altri 24 come nell'ordine {order}.",
        "product.reply": "Ciao {name}, sì, «{product}» è disponibile e parte entro due giorni "
        "lavorativi. Il tuo ordine precedente {order} è stato consegnato da {carrier} ({tracking}).",
        "discount": "Avete un codice sconto per i clienti abituali? Ho appena ricevuto l'ordine {order} "
        "e vorrei riordinare.",
        "discount.reply": "Ciao {name}, grazie di essere tornata! Con il codice THANKYOU10 hai il 10% "
        "sul prossimo ordine. Felice che {order} sia arrivato bene ({carrier} {tracking}).",
        "refund": "Ho annullato l'ordine {order} ma non ho ancora visto il rimborso. Quando riavrò i "
        "miei soldi?",
        "refund.reply": "Ciao {name}, il rimborso dell'ordine {order} è stato emesso sul metodo di "
        "pagamento originale. Di solito la banca impiega 3-5 giorni lavorativi a mostrarlo.",
        "followup": "Ci sono novità? Non ho ancora saputo nulla.",
        "thanks": "Perfetto, grazie mille per l'aiuto!",
        "closing": "Figurati, {name}! Buona giornata.",
        "holding": "Ciao {name}, ho chiesto a {carrier} di verificare la spedizione {tracking} e ti "
        "aggiorno appena ho una risposta.",
    },
    "nl": {
        "subject": "Bestelling {order}",
        "wismo": "Hallo, ik heb vorige week besteld (bestelling {order}) en nog niets ontvangen. Waar "
        "is mijn pakket?",
        "wismo.reply": "Hoi {name}, bedankt voor je geduld! Bestelling {order} is onderweg met "
        "{carrier}, trackingnummer {tracking}. Het pakket komt naar verwachting binnen twee werkdagen "
        "aan.",
        "delay": "Bestelling {order} is nog steeds niet binnen en de tracking staat al dagen stil. Ik "
        "heb de spullen dit weekend nodig. Erg teleurstellend.",
        "delay.reply": "Hoi {name}, sorry voor het lange wachten. Ik heb bij {carrier} een onderzoek "
        "gestart naar zending {tracking}. Is het vrijdag nog niet binnen, dan sturen we gratis per "
        "express een nieuwe.",
        "address": "Hallo, kan ik het bezorgadres van bestelling {order} nog wijzigen? Ik ben verhuisd.",
        "address.reply": "Hoi {name}, het pakket is al verzonden, dus we hebben {carrier} gevraagd het "
        "om te leiden. Je kunt het adres ook zelf aanpassen met trackingnummer {tracking}.",
        "cancel": "Wilt u bestelling {order} annuleren? Ik heb per ongeluk het verkeerde aantal besteld.",
        "cancel.reply": "Hoi {name}, bestelling {order} is al verzonden met {carrier} ({tracking}). "
        "Stuur het pakket na ontvangst ongeopend terug, dan betalen we het volledige bedrag terug.",
        "return": "Hallo, ik wil het artikel ‘{product}’ uit bestelling {order} retourneren. Het is "
        "niet wat ik verwachtte.",
        "return.reply": "Hoi {name}, geen probleem: je kunt binnen 30 dagen retourneren. Ik heb je een "
        "gefrankeerd retourlabel gemaild; vermeld trackingnummer {tracking} op het pakket.",
        "damaged": "Het artikel ‘{product}’ uit bestelling {order} kwam kapot aan, de doos was "
        "ingedeukt. Wat kunnen jullie doen?",
        "damaged.reply": "Hoi {name}, wat vervelend! Kun je een foto van het artikel en de doos sturen? "
        "We sturen meteen een vervangend exemplaar en melden zending {tracking} bij {carrier}.",
        "invoice": "Kunt u mij een factuur met btw sturen voor bestelling {order}? Ik heb die nodig "
        "voor de boekhouding.",
        "invoice.reply": "Hoi {name}, in de bijlage vind je de factuur van bestelling {order}, bezorgd "
        "door {carrier} (tracking {tracking}).",
        "product": "Is ‘{product}’ nog leverbaar? Ik wil er nog 24 bestellen, net als in bestelling {order}.",
        "product.reply": "Hoi {name}, ja, ‘{product}’ is op voorraad en wordt binnen twee werkdagen "
        "verzonden. Je vorige bestelling {order} is bezorgd door {carrier} ({tracking}).",
        "discount": "Hebben jullie een kortingscode voor vaste klanten? Bestelling {order} is net "
        "binnen en ik wil opnieuw bestellen.",
        "discount.reply": "Hoi {name}, leuk dat je terugkomt! Met code THANKYOU10 krijg je 10% korting "
        "op je volgende bestelling. Fijn dat {order} goed is aangekomen ({carrier} {tracking}).",
        "refund": "Ik heb bestelling {order} geannuleerd, maar nog geen terugbetaling gezien. Wanneer "
        "krijg ik mijn geld terug?",
        "refund.reply": "Hoi {name}, de terugbetaling voor bestelling {order} is naar je "
        "oorspronkelijke betaalmethode gestuurd. Banken hebben meestal 3-5 werkdagen nodig om die te "
        "tonen.",
        "followup": "Is er al nieuws? Ik heb nog niets gehoord.",
        "thanks": "Top, heel erg bedankt voor de hulp!",
        "closing": "Graag gedaan, {name}! Fijne dag nog.",
        "holding": "Hoi {name}, ik heb {carrier} gevraagd zending {tracking} na te kijken en laat het "
        "je weten zodra ik iets hoor.",
    },
    "pt": {
        "subject": "Encomenda {order}",
        "wismo": "Olá, fiz uma encomenda na semana passada (encomenda {order}) e ainda não recebi nada. "
        "Onde está a minha encomenda?",
        "wismo.reply": "Olá {name}, obrigado pela paciência! A encomenda {order} está a caminho com "
        "{carrier}, número de seguimento {tracking}. Deve chegar nos próximos dois dias úteis.",
        "delay": "A encomenda {order} ainda não chegou e o seguimento está parado há dias. Preciso dos "
        "artigos para um evento este fim de semana. Estou muito desiludida.",
        "delay.reply": "Olá {name}, lamento muito a demora. Abri um pedido de averiguação junto da "
        "{carrier} para o envio {tracking}. Se não chegar até sexta-feira, enviamos outra por expresso "
        "sem custos.",
        "address": "Olá, ainda posso alterar a morada de entrega da encomenda {order}? Mudei de casa.",
        "address.reply": "Olá {name}, o volume já saiu do armazém, por isso pedimos à {carrier} que o "
        "reencaminhe. Também pode alterar a morada com o número de seguimento {tracking}.",
        "cancel": "Por favor, cancelem a encomenda {order}, enganei-me na quantidade.",
        "cancel.reply": "Olá {name}, a encomenda {order} já foi expedida com {carrier} ({tracking}). "
        "Quando chegar, devolva-a sem abrir e reembolsamos o valor total.",
        "return": "Olá, quero devolver o artigo «{product}» da encomenda {order}. Não é o que esperava.",
        "return.reply": "Olá {name}, sem problema: tem 30 dias para devolver. Enviei-lhe por e-mail uma "
        "etiqueta de devolução pré-paga; indique o número de seguimento {tracking} no volume.",
        "damaged": "O artigo «{product}» da encomenda {order} chegou partido e a caixa vinha "
        "amachucada. O que podem fazer?",
        "damaged.reply": "Olá {name}, lamento imenso! Pode enviar-nos uma fotografia do artigo e da "
        "caixa? Enviamos já um novo e comunicamos o envio {tracking} à {carrier}.",
        "invoice": "Podem enviar-me uma fatura com IVA da encomenda {order}? Preciso dela para a "
        "contabilidade da empresa.",
        "invoice.reply": "Olá {name}, segue em anexo a fatura da encomenda {order}, entregue pela "
        "{carrier} (seguimento {tracking}).",
        "product": "O artigo «{product}» ainda está disponível? Quero encomendar mais 24 como na "
        "encomenda {order}.",
        "product.reply": "Olá {name}, sim, «{product}» está em stock e é expedido em dois dias úteis. A "
        "sua encomenda anterior {order} foi entregue pela {carrier} ({tracking}).",
        "discount": "Têm algum código de desconto para clientes habituais? Acabei de receber a "
        "encomenda {order} e quero voltar a encomendar.",
        "discount.reply": "Olá {name}, obrigado por voltar! Com o código THANKYOU10 tem 10% de desconto "
        "na próxima encomenda. Ainda bem que a {order} chegou bem ({carrier} {tracking}).",
        "refund": "Cancelei a encomenda {order} mas ainda não vi o reembolso. Quando recebo o meu dinheiro?",
        "refund.reply": "Olá {name}, o reembolso da encomenda {order} foi emitido para o meio de "
        "pagamento original. Os bancos costumam demorar 3 a 5 dias úteis a mostrá-lo.",
        "followup": "Há novidades? Ainda não tive resposta.",
        "thanks": "Ótimo, muito obrigada pela ajuda!",
        "closing": "De nada, {name}! Tenha um bom dia.",
        "holding": "Olá {name}, pedi à {carrier} que verificasse o envio {tracking} e volto a "
        "contactá-la assim que tiver resposta.",
    },
    "ja": {
        "subject": "注文番号 {order}",
        "wismo": "先週注文した商品（注文番号 {order}）がまだ届いていません。荷物は今どこにありますか？",
        "wismo.reply": "{name}様、お待たせしております。ご注文 {order} は{carrier}にて配送中です（追跡番"
        "号 {tracking}）。2営業日以内にお届けの予定です。",
        "delay": "注文 {order} がまだ届きません。追跡情報も何日も更新されていません。週末のイベントで使"
        "う予定だったので、とても困っています。",
        "delay.reply": "{name}様、大変お待たせして申し訳ございません。{carrier}に荷物 {tracking} の調査"
        "を依頼しました。金曜日までに届かない場合は、弊社負担で速達にて再送いたします。",
        "address": "注文 {order} の配送先住所を変更することはまだできますか？引っ越しました。",
        "address.reply": "{name}様、荷物はすでに出荷済みのため、{carrier}に転送を依頼しました。追跡番号 "
        "{tracking} でご自身で住所を変更することもできます。",
        "cancel": "注文 {order} をキャンセルしてください。数量を間違えて注文してしまいました。",
        "cancel.reply": "{name}様、ご注文 {order} はすでに{carrier}で発送済みです（{tracking}）。お受け"
        "取り後、未開封のままご返送いただければ全額返金いたします。",
        "return": "注文 {order} の「{product}」を返品したいです。イメージと違いました。",
        "return.reply": "{name}様、かしこまりました。30日以内であれば返品可能です。送料無料の返送ラベル"
        "をメールでお送りしましたので、荷物に元の追跡番号 {tracking} をご記入ください。",
        "damaged": "注文 {order} の「{product}」が壊れた状態で届きました。箱もつぶれていました。どうすれ"
        "ばいいですか？",
        "damaged.reply": "{name}様、大変申し訳ございません。商品と箱の写真をお送りいただけますか？すぐに"
        "代替品を発送し、荷物 {tracking} について{carrier}に報告いたします。",
        "invoice": "注文 {order} の請求書（税額記載）を送っていただけますか？会社の経理で必要です。",
        "invoice.reply": "{name}様、ご注文 {order} の請求書を添付いたします。{carrier}にてお届け済みです"
        "（追跡番号 {tracking}）。",
        "product": "「{product}」はまだ在庫がありますか？注文 {order} と同じく24個追加で注文したいです。",
        "product.reply": "{name}様、はい、「{product}」は在庫がございます。2営業日以内に発送いたします。"
        "前回のご注文 {order} は{carrier}でお届け済みです（{tracking}）。",
        "discount": "リピーター向けの割引コードはありますか？注文 {order} が届いたので、また注文したいです。",
        "discount.reply": "{name}様、いつもありがとうございます。次回のご注文にコード THANKYOU10 で10%割"
        "引になります。ご注文 {order} が無事に届いてよかったです（{carrier} {tracking}）。",
        "refund": "注文 {order} をキャンセルしましたが、まだ返金が確認できません。いつ返金されますか？",
        "refund.reply": "{name}様、ご注文 {order} の返金は元のお支払い方法に手続き済みです。反映まで通常"
        "3〜5営業日かかります。",
        "followup": "その後どうなりましたか？まだ連絡がありません。",
        "thanks": "ありがとうございます。助かりました！",
        "closing": "どういたしまして、{name}様。今後ともよろしくお願いいたします。",
        "holding": "{name}様、{carrier}に荷物 {tracking} の確認を依頼しました。回答があり次第ご連絡いた"
        "します。",
    },
    "pl": {
        "subject": "Zamówienie {order}",
        "wismo": "Dzień dobry, zamówiłam w zeszłym tygodniu (zamówienie {order}) i nadal nic nie "
        "dostałam. Gdzie jest moja paczka?",
        "wismo.reply": "Dzień dobry {name}, dziękujemy za cierpliwość! Zamówienie {order} jest w drodze "
        "z {carrier}, numer przesyłki {tracking}. Powinno dotrzeć w ciągu dwóch dni roboczych.",
        "delay": "Zamówienie {order} nadal nie dotarło, a śledzenie przesyłki stoi od kilku dni. "
        "Potrzebuję tych rzeczy na weekend. Jestem bardzo rozczarowana.",
        "delay.reply": "Dzień dobry {name}, bardzo przepraszam za opóźnienie. Zgłosiłem reklamację w "
        "{carrier} dla przesyłki {tracking}. Jeśli nie dotrze do piątku, wyślemy nową ekspresowo na "
        "nasz koszt.",
        "address": "Dzień dobry, czy mogę jeszcze zmienić adres dostawy zamówienia {order}? "
        "Przeprowadziłem się.",
        "address.reply": "Dzień dobry {name}, paczka opuściła już magazyn, więc poprosiliśmy {carrier} "
        "o przekierowanie. Adres można też zmienić samodzielnie, podając numer przesyłki {tracking}.",
        "cancel": "Proszę anulować zamówienie {order}, pomyliłem się w ilości.",
        "cancel.reply": "Dzień dobry {name}, zamówienie {order} zostało już wysłane z {carrier} "
        "({tracking}). Po odbiorze prosimy odesłać je nieotwarte, a zwrócimy pełną kwotę.",
        "return": "Dzień dobry, chciałabym zwrócić produkt „{product}” z zamówienia {order}. Nie "
        "spełnia moich oczekiwań.",
        "return.reply": "Dzień dobry {name}, nie ma problemu: na zwrot jest 30 dni. Wysłałem e-mailem "
        "opłaconą etykietę zwrotną; prosimy podać na paczce numer przesyłki {tracking}.",
        "damaged": "Produkt „{product}” z zamówienia {order} przyszedł uszkodzony, karton był "
        "zgnieciony. Co możecie zrobić?",
        "damaged.reply": "Dzień dobry {name}, bardzo przepraszamy! Czy może Pani/Pan przesłać zdjęcie "
        "produktu i kartonu? Od razu wyślemy nowy egzemplarz i zgłosimy przesyłkę {tracking} do "
        "{carrier}.",
        "invoice": "Czy mogą Państwo przesłać fakturę VAT do zamówienia {order}? Potrzebuję jej do "
        "księgowości.",
        "invoice.reply": "Dzień dobry {name}, w załączniku faktura do zamówienia {order}, doręczonego "
        "przez {carrier} (numer przesyłki {tracking}).",
        "product": "Czy „{product}” jest jeszcze dostępny? Chcę zamówić kolejne 24 sztuki, jak w "
        "zamówieniu {order}.",
        "product.reply": "Dzień dobry {name}, tak, „{product}” jest dostępny i wysyłamy go w ciągu "
        "dwóch dni roboczych. Poprzednie zamówienie {order} doręczył {carrier} ({tracking}).",
        "discount": "Czy macie kod rabatowy dla stałych klientów? Właśnie dostałam zamówienie {order} i "
        "chcę zamówić ponownie.",
        "discount.reply": "Dzień dobry {name}, dziękujemy za powrót! Kod THANKYOU10 daje 10% rabatu na "
        "kolejne zamówienie. Cieszymy się, że {order} dotarło bez problemów ({carrier} {tracking}).",
        "refund": "Anulowałem zamówienie {order}, ale nadal nie widzę zwrotu pieniędzy. Kiedy go otrzymam?",
        "refund.reply": "Dzień dobry {name}, zwrot za zamówienie {order} został zlecony na pierwotną "
        "metodę płatności. Banki zwykle potrzebują 3-5 dni roboczych, aby go zaksięgować.",
        "followup": "Czy są jakieś nowe informacje? Nadal nic nie wiem.",
        "thanks": "Świetnie, bardzo dziękuję za pomoc!",
        "closing": "Nie ma za co, {name}! Miłego dnia.",
        "holding": "Dzień dobry {name}, poprosiłem {carrier} o sprawdzenie przesyłki {tracking} i "
        "odezwę się, gdy tylko dostanę odpowiedź.",
    },
}

# Internal notes, in the two languages the agents work in.
NOTES: dict[str, tuple[str, ...]] = {
    "en": (
        "Checked with {carrier}: parcel {tracking} scanned at the hub yesterday, no issue reported.",
        "Repeat buyer with {orders} orders, happy to offer free shipping on the next one.",
        "Asked the warehouse to hold a replacement for order {order} until the photo arrives.",
    ),
    "zh-CN": (
        "已向{carrier}核实：包裹 {tracking} 昨天已到达转运中心，暂无异常。",
        "老客户，共 {orders} 笔订单，下次可以免运费。",
        "已通知仓库为订单 {order} 预留补发商品，等客户照片。",
    ),
}
